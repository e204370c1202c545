"""The example project with registered models: two tracked runs of ``examples/train.py`` whose
scikit-learn models land in a model registry, plus versions cfgtrack cannot follow to a record.

Built once per store by the module fixture that needs it; every registry call is MLflow's own
client against a real store (a SQLite file, or a real ``mlflow server``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support import REPO_ROOT
from support.cli import PYTHON, clean_env
from support.git import commit
from support.project import Project
from support.sweeps import SERVER_ENV

RETUNED_PROD = ("C: 0.5", "C: 0.4"), ("timeout_s: 30", "timeout_s: 20")


@dataclass(frozen=True)
class RegisteredExample:
    """The project, its store, and which run trained each registered ``fraud`` version."""

    project: Project
    tracking_uri: str
    champion_run: str  # fraud v1 @champion: trained with model.C=0.8 (registered from its run)
    challenger_run: str  # fraud v2 @challenger: model.C=0.5 (registered from its logged model)


def example_project(base: Path, tracking_uri: str) -> Project:
    """``examples/make_history.py`` run into ``base / "project"``: the example with its history."""
    root = base / "project"
    subprocess.run(
        [PYTHON, str(REPO_ROOT / "examples" / "make_history.py"), str(root)],
        check=True,
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    return Project(root, tracking_uri)


def register_example(base: Path, tracking_uri: str) -> RegisteredExample:
    """Train the example twice in prod (one Hydra multirun), retune prod in a commit after,
    register both models as ``fraud`` and add the versions no record stands behind."""
    from mlflow.tracking import MlflowClient

    project = example_project(base, tracking_uri)
    trained = project.run(
        "--multirun",
        "env=prod",
        "model.C=0.8,0.5",
        script="examples/train.py",
        timeout=300,
        env=SERVER_ENV,  # a loaded machine must not send the runs to the spool instead
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    prod = project.root / "conf" / "env" / "prod.yaml"
    text = prod.read_text()
    for old, new in RETUNED_PROD:
        text = text.replace(old, new)
    commit(
        project.root, "prod: retuned after the models were trained", {"conf/env/prod.yaml": text}
    )

    # MLflow's SQLite registry looks logged models up through the global tracking URI
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    try:
        return _register(project, MlflowClient(tracking_uri))
    finally:
        if saved is None:
            del os.environ["MLFLOW_TRACKING_URI"]
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def _register(project: Project, client) -> RegisteredExample:
    experiment = client.get_experiment_by_name("cfgtrack-example").experiment_id
    jobs = {
        run.data.params["model.C"]: run.info.run_id
        for run in client.search_runs([experiment], "tags.`mlflow.parentRunId` != ''")
    }
    champion, challenger = jobs["0.8"], jobs["0.5"]
    client.create_registered_model("fraud")
    first = client.create_model_version("fraud", f"runs:/{champion}/model", run_id=champion)
    logged = client.search_logged_models([experiment], f"source_run_id = '{challenger}'")[0]
    second = client.create_model_version("fraud", logged.model_uri, model_id=logged.model_id)
    client.set_registered_model_alias("fraud", "champion", first.version)
    client.set_registered_model_alias("fraud", "challenger", second.version)

    untracked = client.create_run(client.create_experiment("not-tracked")).info.run_id
    client.create_registered_model("untracked")
    version = client.create_model_version("untracked", f"runs:/{untracked}/m", run_id=untracked)
    client.set_registered_model_alias("untracked", "prod", version.version)
    loose = client.create_logged_model(experiment, name="loose")
    client.create_registered_model("loose")
    version = client.create_model_version("loose", loose.model_uri, model_id=loose.model_id)
    client.set_registered_model_alias("loose", "prod", version.version)
    return RegisteredExample(project, project.tracking_uri, champion, challenger)
