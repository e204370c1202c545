"""Fuzzed runs through MLflow and the spool: whatever the config, a job ends FINISHED or FAILED in
a real SQLite store, never RUNNING, and the spool keeps whole entries only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfgtrack.record.callback import TrackingCallback
from cfgtrack.record.sinks.mlflow import split_params
from cfgtrack.record.sinks.spool import SpoolEntry, list_entries
from support.fuzzing import NASTY_KEYS, fuzz, odd_text
from support.jobs import assert_whole_folder, job_config, omegaconf_trees, run_job
from support.spool import spool_meta


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One real SQLite store for the module (its schema is set up once)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    return uri


# Not generated here until a key's param name and its record.json name agree: a boolean key is
# ``False`` as a param (and to cfgtrack diff) but ``false`` in record.json.
keys_json_spells_alike = st.one_of(
    st.sampled_from(NASTY_KEYS), st.text(max_size=8), st.integers(-3, 300)
)


@pytest.mark.slow
@fuzz(40)
@given(tree=omegaconf_trees(keys=keys_json_spells_alike, max_leaves=8), fail=st.booleans())
def test_any_job_lands_in_mlflow_finished_or_failed_never_running(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    tracking_uri: str,
    tree: dict,
    fail: bool,
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-job")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    config = job_config(tree, folder, [])
    record_folder, warned = run_job(TrackingCallback(experiment="fuzz"), config, fail)
    assert warned == []
    record = assert_whole_folder(record_folder)
    run = MlflowClient(tracking_uri).get_run(record["run"]["mlflow"]["run_id"])
    assert run.info.status == ("FAILED" if fail else "FINISHED")
    assert run.data.params == split_params(record["config"]["resolved"])[0]
    assert mlflow.active_run() is None
    entries, broken = list_entries(folder / ".cfgtrack" / "spool")
    assert entries == [] and broken == []


def test_text_utf8_cannot_hold_is_recorded_as_its_escape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracking_uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    # YAML's "x\ud800y" reads as this; undecodable command-line bytes arrive as \udcff
    config = job_config({"a": "x\ud800y"}, tmp_path, ["+b='\udcff'"])
    folder, warned = run_job(TrackingCallback(experiment="fuzz"), config, fail=False)
    assert warned == []
    record = assert_whole_folder(folder)
    assert record["config"]["resolved"]["a"] == "x\\ud800y"
    assert record["config"]["overrides"] == ["+b='\\udcff'"]
    run = MlflowClient(tracking_uri).get_run(record["run"]["mlflow"]["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["a"] == "x\\ud800y"
    spool = tmp_path / ".cfgtrack" / "spool"
    assert not [entry for entry in spool.glob("*") if entry.is_dir()]


spool_values = st.dictionaries(odd_text, odd_text, max_size=5)


@fuzz(60)
@given(
    tags=spool_values,
    params=spool_values,
    artifacts=st.dictionaries(
        st.sampled_from(["record.json", "config.yaml", "x.txt"]), odd_text, min_size=1
    ),
    status=st.sampled_from(["FINISHED", "FAILED", "KILLED"]),
)
def test_spool_entries_read_back_as_written(
    tmp_path_factory: pytest.TempPathFactory,
    tags: dict,
    params: dict,
    artifacts: dict,
    status: str,
) -> None:
    spool = tmp_path_factory.mktemp("spool")
    meta = spool_meta("f" * 32, tags=tags, params=params)
    SpoolEntry.create(spool, meta, artifacts)
    [entry], broken = list_entries(spool)
    assert broken == [] and entry.meta["tags"] == tags and entry.meta["params"] == params
    entry.finish(status, "2025-01-02T03:04:05.678+00:00", {"last.txt": "done"})
    [entry], _ = list_entries(spool)
    assert entry.status == status
    names = {path.name for path in entry.artifacts.iterdir()}
    assert names == {*artifacts, "last.txt"}
    assert not [path for path in entry.path.rglob(".*") if path.name != ".lock"]
