"""The ``cfgtrack/`` folder of a run: the record and its views, written in the Hydra output dir.

The same folder is uploaded as the run's ``cfgtrack/`` artifacts, so what a user finds next to
their outputs and what MLflow shows are byte for byte the same files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cfgtrack.config.yaml_text import plain_yaml
from cfgtrack.record.run_record import to_json, write_atomic

FOLDER = "cfgtrack"
RECORD = "record.json"
TRACEBACK = "traceback.txt"
UNLOGGED = "unlogged_params.json"
PATCH = "git.patch"


def plain(tree: Any) -> Any:
    """Only JSON types (enums, paths and the like become strings), for YAML/JSON views."""
    return json.loads(json.dumps(tree, default=str))


def _yaml(tree: Any) -> str:
    return plain_yaml(plain(tree))


def detach_patch(record: dict[str, Any]) -> str:
    """Take the patch text out of the record and leave a reference to the ``git.patch`` file in
    its place (``{"artifact", "sha256", "bytes"}``, None for no patch): one copy per run."""
    git = record.get("git")
    if not isinstance(git, dict) or not isinstance(git.get("patch"), str):
        return ""
    text = git["patch"]
    data = text.encode("utf-8")
    git["patch"] = (
        {
            "artifact": f"{FOLDER}/{PATCH}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
        if text
        else None
    )
    return text


def views(record: dict[str, Any], patch: str = "") -> dict[str, str]:
    """File name -> content for every file the record yields (``patch``: its git.patch)."""
    config = record["config"]
    files = {
        "config.yaml": _yaml(config["resolved"]),
        "config.unresolved.yaml": _yaml(config["unresolved"]),
        "overrides.yaml": _yaml(_overrides(record)),
        "environment.json": to_json(record["environment"]),
    }
    if patch:
        files[PATCH] = patch
    return files | final_views(record)


def _overrides(record: dict[str, Any]) -> dict[str, Any]:
    """Task overrides, group choices, the command; for a sweep also the sweep its config
    defines (``hydra.sweeper.params``), which the command line does not show."""
    config = record["config"]
    overrides = {
        "task": config["overrides"],
        "choices": config["choices"],
        "command": config["command"],
    }
    sweeper = (config.get("hydra") or {}).get("sweeper") or {}
    if record["run"].get("role") == "sweep" and sweeper.get("params"):
        overrides["sweeper_params"] = sweeper["params"]
    return overrides


def final_views(record: dict[str, Any]) -> dict[str, str]:
    """The files that change when a run ends: the record, and the traceback of a failure."""
    files = {RECORD: to_json(record)}
    error = record["run"].get("error")
    if error and error.get("traceback"):
        files[TRACEBACK] = error["traceback"]
    return files


def write_folder(folder: Path, files: dict[str, str]) -> None:
    """Write each file atomically into ``folder``."""
    for name, content in files.items():
        write_atomic(folder / name, content)


def claim_folder(output_dir: Path, local_id: str) -> Path:
    """The run's folder in its output dir: ``cfgtrack/``, unless a run that has not ended holds
    it (with ``mlflow = false`` too, two runs started in the same second share Hydra's default
    output dir), then ``cfgtrack-<local id>/``: no record replaces another run's."""
    folder = output_dir / FOLDER
    try:
        folder.mkdir(parents=True)
        return folder
    except FileExistsError:
        pass
    try:
        holder = read_record(folder)["run"]
        taken = holder["status"] == "RUNNING" and holder["local_id"] != local_id
    except (OSError, ValueError, TypeError, KeyError):
        taken = True  # claimed a moment ago, its record not written yet (or damaged)
    return output_dir / f"{FOLDER}-{local_id}" if taken else folder


def run_folder(output_dir: Path, local_id: str) -> Path:
    """Where ``claim_folder`` put the run ``local_id`` of ``output_dir``."""
    own = output_dir / f"{FOLDER}-{local_id}"
    return own if own.is_dir() else output_dir / FOLDER


def read_record(folder: Path) -> dict[str, Any]:
    """The record stored in a run folder."""
    return json.loads((folder / RECORD).read_text(encoding="utf-8"))
