"""Fuzzed configs through the record path: whatever config a Hydra job runs with, cfgtrack writes
a whole record (or none), never half of one, and never raises into the job.

Generated OmegaConf trees carry interpolations that resolve, that do not, that only resolve inside
a run, missing values (``???``), unicode, huge values, numeric keys and keys MLflow rejects.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, MAX_PARAM_VAL_LENGTH
from omegaconf import OmegaConf

from cfgtrack.config.flatten import flatten
from cfgtrack.config.hash import config_hash
from cfgtrack.record.callback import TrackingCallback
from cfgtrack.record.capture.config import capture_config
from cfgtrack.record.run_record import finish_record, new_record, to_json, write_atomic
from cfgtrack.record.sinks import files
from cfgtrack.record.sinks.mlflow import split_params
from cfgtrack.record.strict import job_facts
from cfgtrack.redact import MASK, Redactor
from cfgtrack.settings import Settings
from support.fuzzing import fuzz, odd_text, overrides
from support.jobs import assert_whole_folder, job_config, omegaconf_trees, run_job

# -- the record's pieces, in-process -----------------------------------------------------------


@pytest.mark.slow
@fuzz(250)
@given(tree=omegaconf_trees(), task=st.lists(overrides, max_size=3))
def test_any_config_gives_a_whole_record_and_mlflow_safe_params(
    tmp_path_factory: pytest.TempPathFactory, tree: dict, task: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("record")
    redactor = Redactor()
    captured = redactor.config(capture_config(job_config(tree, folder, task)))
    run = {"role": "job", "local_id": "0" * 32, "output_dir": str(folder), "job_name": "app"}
    record = new_record(
        captured, {}, {}, [], run, config_hash(captured["resolved"], captured["unresolved"])
    )
    record = redactor.rest_of_record(record)
    views = files.views(record)
    finish_record(record, "FINISHED", None)
    files.write_folder(folder / "cfgtrack", {**views, **files.final_views(record)})

    stored = assert_whole_folder(folder / "cfgtrack")
    assert (folder / "cfgtrack" / files.RECORD).read_text(encoding="utf-8") == to_json(record)
    assert stored["config"]["hash"].startswith("sha256:")
    assert "hydra" not in stored["config"]["resolved"]

    params, unlogged = split_params(record["config"]["resolved"])
    assert params.keys() | unlogged.keys() == flatten(record["config"]["resolved"]).keys()
    for key, value in params.items():
        assert len(key) <= MAX_ENTITY_KEY_LENGTH and len(value) <= MAX_PARAM_VAL_LENGTH
    assert all(reason for reason in unlogged.values())


def test_overrides_are_recorded_as_typed_even_when_they_do_not_resolve(tmp_path: Path) -> None:
    typed = ["+b=${nope}", "+c=${a}", "a=2"]
    captured = capture_config(job_config({"a": 1}, tmp_path, typed))
    assert captured["overrides"] == typed


def test_numeric_keys_beside_string_keys_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = job_config({1: "one", "a": {2: "two", "b": 3}}, tmp_path, [])
    folder, warned = run_job(TrackingCallback(enabled=False), config, fail=False)
    assert warned == []
    record = assert_whole_folder(folder)
    assert record["config"]["resolved"] == {"1": "one", "a": {"2": "two", "b": 3}}
    assert record["config"]["hash"] == config_hash({"1": "one", "a": {"2": "two", "b": 3}})


ODD_CFGTRACK_SECTIONS = [
    {"cfgtrack": [1, 2]},
    {"cfgtrack": "x"},
    {"cfgtrack": None},
    {"cfgtrack": {"strict": [1]}},
    {"cfgtrack": {"data": 5}},
]


@pytest.mark.parametrize("tree", ODD_CFGTRACK_SECTIONS)
def test_a_cfgtrack_section_of_any_shape_never_stops_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tree: dict
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run_job(TrackingCallback(enabled=False), job_config(tree, tmp_path, []), fail=False)


@pytest.mark.parametrize(
    "tree", [{"cfgtrack": [1, 2]}, {"cfgtrack": "x"}, {"cfgtrack": {"data": 5}}]
)
def test_a_cfgtrack_section_of_any_shape_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tree: dict
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = job_config(tree, tmp_path, [])
    folder, warned = run_job(TrackingCallback(enabled=False), config, fail=False)
    declared = tree["cfgtrack"].get("data") if isinstance(tree["cfgtrack"], dict) else None
    missing = [] if declared is None else [f"dataset {declared}: "]  # a path that does not exist
    assert [w.split("/", 1)[0] for w in warned] == [f"cfgtrack: warning: {m}" for m in missing]
    assert all(w.endswith("does not exist; recorded as missing") for w in warned)
    assert_whole_folder(folder)


def test_data_named_in_the_callback_config_is_fingerprinted_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "train.csv").write_text("x,y\n1,2\n")
    data = OmegaConf.create({"train": "train.csv"})  # as Hydra instantiates the callback
    config = job_config({"a": 1}, tmp_path, [])
    folder, warned = run_job(TrackingCallback(enabled=False, data=data), config, fail=False)
    assert warned == []
    [entry] = assert_whole_folder(folder)["data"]
    assert entry["name"] == "train" and entry["path"] == str(tmp_path / "train.csv")
    assert entry["sha256"]


def test_strict_mode_reads_overrides_as_typed(tmp_path: Path) -> None:
    typed = ["+b=${nope}", "env=prod"]
    facts = job_facts(job_config({"a": 1}, tmp_path, typed), Settings(tmp_path, tmp_path / "conf"))
    assert facts.overrides == tuple(typed)


@fuzz(60)
@given(tree=omegaconf_trees(), secret=st.text(min_size=8, max_size=20).filter(str.strip))
def test_a_secret_under_any_config_is_masked_in_every_view(
    tmp_path_factory: pytest.TempPathFactory, tree: dict, secret: str
) -> None:
    assume(secret.strip() not in json.dumps(tree, ensure_ascii=False) and MASK not in secret)
    folder = tmp_path_factory.mktemp("secret")
    config = job_config({**tree, "db": {"password": secret}}, folder, [])
    redactor = Redactor()
    captured = redactor.config(capture_config(config))
    params, _ = split_params(captured["resolved"])
    assert params["db.password"] == MASK
    views = files.views({"config": captured, "git": {}, "environment": {}, "run": {}})
    assert not any(secret in text for text in views.values())


# -- a whole job through the Hydra callback, without and with MLflow ---------------------------


@fuzz(60)
@given(tree=omegaconf_trees(), task=st.lists(overrides, max_size=2), fail=st.booleans())
def test_any_job_is_recorded_whole_in_its_output_folder(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    tree: dict,
    task: list[str],
    fail: bool,
) -> None:
    folder = tmp_path_factory.mktemp("job")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
    record_folder, warned = run_job(
        TrackingCallback(enabled=False), job_config(tree, folder, task), fail
    )
    assert warned == []
    record = assert_whole_folder(record_folder)
    assert record["run"]["status"] == ("FAILED" if fail else "FINISHED")
    assert (record["run"]["error"] is not None) == fail


# -- atomic writes -----------------------------------------------------------------------------


@fuzz(60)
@given(old=odd_text, new=st.text(max_size=200), bad_at=st.integers(0, 200))
def test_a_write_that_fails_half_way_leaves_the_old_file_whole(
    tmp_path_factory: pytest.TempPathFactory, old: str, new: str, bad_at: int
) -> None:
    path = tmp_path_factory.mktemp("atomic") / "record.json"
    write_atomic(path, old)
    unencodable = new[:bad_at] + "\ud800" + new[bad_at:]  # the write breaks at this character
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, unencodable)
    assert path.read_bytes() == old.encode("utf-8")
    assert [item.name for item in path.parent.iterdir()] == ["record.json"]


def test_a_record_is_as_readable_as_any_file_the_user_writes(tmp_path: Path) -> None:
    plain, atomic = tmp_path / "plain.json", tmp_path / "record.json"
    plain.write_text("{}")
    write_atomic(atomic, "{}")
    assert atomic.stat().st_mode == plain.stat().st_mode


def test_readers_never_see_a_record_half_written(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    versions = [to_json({"version": n, "config": {"x": "v" * 200_000}}) for n in range(2)]
    write_atomic(path, versions[0])
    done = threading.Event()
    seen: list[int] = []

    def read() -> None:
        while not done.is_set():
            seen.append(json.loads(path.read_text(encoding="utf-8"))["version"])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(200):
            write_atomic(path, versions[n % 2])
    finally:
        done.set()
        reader.join()
    assert len(seen) > 10 and set(seen) <= {0, 1}
