"""Spool entries written by hand, for tests of what sync, gc and the readers make of them."""

from __future__ import annotations


def spool_meta(local_id: str, **fields: object) -> dict:
    """A complete spool ``entry.json`` body (a RUNNING job) with ``fields`` over it."""
    return {
        "local_id": local_id,
        "role": "job",
        "status": "RUNNING",
        "tracking_uri": "sqlite:///mlflow.db",
        "experiment": "config",
        "run_name": "run",
        "start_ms": 0,
        "end_ms": None,
        "tags": {},
        "params": {},
        "extra_tags": {},
        "data": [],
        "parent": None,
        "output_dir": None,
        "process": None,
        **fields,
    }
