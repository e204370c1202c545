"""The ``cfgtrack/`` folder of a run: the record and its views, written in the Hydra output dir.

The same folder is uploaded as the run's ``cfgtrack/`` artifacts, so what a user finds next to
their outputs and what MLflow shows are byte for byte the same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from cfgtrack.record.run_record import to_json, write_atomic

FOLDER = "cfgtrack"
RECORD = "record.json"
TRACEBACK = "traceback.txt"
UNLOGGED = "unlogged_params.json"


def plain(tree: Any) -> Any:
    """Only JSON types (enums, paths and the like become strings), for YAML/JSON views."""
    return json.loads(json.dumps(tree, default=str))


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: ~10x faster on wide configs


def _yaml(tree: Any) -> str:
    return yaml.dump(plain(tree), Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100)


def views(record: dict[str, Any]) -> dict[str, str]:
    """File name -> content for every file the record yields."""
    config = record["config"]
    files = {
        "config.yaml": _yaml(config["resolved"]),
        "config.unresolved.yaml": _yaml(config["unresolved"]),
        "overrides.yaml": _yaml(
            {
                "task": config["overrides"],
                "choices": config["choices"],
                "command": config["command"],
            }
        ),
        "environment.json": to_json(record["environment"]),
    }
    patch = record["git"].get("patch")
    if patch:
        files["git.patch"] = patch
    return files | final_views(record)


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


def read_record(folder: Path) -> dict[str, Any]:
    """The record stored in a run folder."""
    return json.loads((folder / RECORD).read_text(encoding="utf-8"))
