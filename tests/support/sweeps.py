"""Eight-job sweeps of the test app and what a complete record of them looks like in MLflow.

Shared by the concurrency and PostgreSQL tests and by benchmarks/bench_concurrency.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support.project import Project

JOBS = 8
SWEEP_ARGS = (
    "--multirun",
    "hydra/launcher=joblib",
    f"hydra.launcher.n_jobs={JOBS}",
    "seed=" + ",".join(str(seed) for seed in range(JOBS)),
)
# Keys of the test app's resolved config: every job's params must hold all of them.
CONFIG_KEYS = {
    "behaviour",
    "seed",
    "model.name",
    "model.lr",
    "model.layers",
    "trainer.epochs",
    "trainer.callbacks.0.name",
    "trainer.callbacks.0.monitor",
    "trainer.tags",
    "paths.out",
    "serving.replicas",
    "cfgtrack.data.train",
}
# sweep_summary of a sweep whose every run landed whole
WHOLE_SWEEP = {
    "runs": JOBS + 1,
    "parents": ["FINISHED"],
    "seeds": list(range(JOBS)),
    "problems": {},
}
ARTIFACTS = {"config.yaml", "config.unresolved.yaml", "overrides.yaml", "record.json"}
# cfgtrack's warnings and errors start with this; Hydra logs them to stdout.
CFGTRACK_SAYS = "cfgtrack:"
# Eight jobs share two cores with the tracking server in these tests: what they check is that
# concurrent writes all land, not the outage bound (5 s by default), so the bound is wider.
SERVER_ENV = {"CFGTRACK_TRACKING_TIMEOUT": "60"}


def launch_separately(project: Project, env: dict[str, str]) -> list[subprocess.Popen[str]]:
    """Eight single runs of the app started at once, each in its own output folder."""
    return [
        project.start(f"seed={seed}", f"hydra.run.dir=outputs/{seed}", env=env)
        for seed in range(JOBS)
    ]


def problems(project: Project, run: Any) -> list[str]:
    """What is missing or wrong in one job's run; empty when it is complete."""
    found = []
    if run.info.status != "FINISHED":
        found.append(f"status {run.info.status}")
    missing = CONFIG_KEYS - set(run.data.params)
    if missing:
        found.append(f"params missing: {sorted(missing)}")
    client = project.client()
    listed = client.list_artifacts(run.info.run_id, "cfgtrack")
    missing_files = ARTIFACTS - {Path(item.path).name for item in listed}
    if missing_files:
        found.append(f"artifacts missing: {sorted(missing_files)}")
        return found
    record = json.loads(
        Path(client.download_artifacts(run.info.run_id, "cfgtrack/record.json")).read_text()
    )
    if record["run"]["mlflow"]["run_id"] != run.info.run_id:
        found.append("record.json belongs to another run")
    if str(record["config"]["resolved"]["seed"]) != run.data.params.get("seed"):
        found.append("record.json and params disagree on the seed")
    if not run.inputs.dataset_inputs:
        found.append("no dataset input")
    return found


def sweep_summary(project: Project, experiment: str) -> dict[str, Any]:
    """The sweep's parent and children as recorded: counts, seeds, statuses, problems."""
    runs = project.runs(experiment)
    parents = [run for run in runs if run.data.tags.get("cfgtrack.sweep") == "true"]
    parent_ids = {run.info.run_id for run in parents}
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") in parent_ids]
    return {
        "runs": len(runs),
        "parents": [run.info.status for run in parents],
        "seeds": sorted(int(run.data.params.get("seed", -1)) for run in children),
        "problems": {
            run.data.params.get("seed"): found
            for run in children
            if (found := problems(project, run))
        },
    }
