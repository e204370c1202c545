"""The shared corpus of real projects' config histories (../shared/corpus beside the project).

Each project is a git bundle plus, per first-parent config commit, what Hydra 1.3.8's own compose
gave (``NAME.compose-hydra-1.3.8.tsv``). Tests needing it skip only when the folder is absent.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hydra.core.config_store import ConfigStore

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"  # beside the project
HYDRA_VERSION = "1.3.8"
LONGEST = "NeMo-Framework-Launcher"  # 401 first-parent config commits

# What the corpus composed each project with besides its files (manifest.json,
# compose_head_hydra_core_1_3_8 and env_like_groups).
OVERRIDES = {
    "BenchMARL": ("algorithm=mappo", "task=vmas/balance"),
    "hydra/configuring_experiments": ("+experiment=aplite",),
}
# BenchMARL's schemas live in modules importing torch: the corpus composed it with empty nodes.
STUBS = {"BenchMARL": (("experiment", "experiment_config"), ("algorithm", "mappo_config"))}
STUBS["BenchMARL"] += (("task", "vmas_balance_config"),)
# Projects whose schema the corpus describes rather than ships; tests register their own.
SCHEMA_MODULES = {"hydra-somewhat-advanced": "support.corpus_schemas"}


def corpus() -> Path:
    """The corpus folder; skips the calling test when it is absent."""
    if not (CORPUS / "manifest.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared corpus is not at {CORPUS}; CI has it beside the project")
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS


def projects() -> list[str]:
    """Every project with a compose record, by name (no skip: used to parametrize)."""
    return sorted(p.name.split(".compose-")[0] for p in CORPUS.glob("*.compose-*.tsv"))


def clone(name: str, destination: Path) -> Path:
    """A clone of the project's bundle at ``destination`` (its branch checked out)."""
    bundle = corpus() / f"{name}.bundle"
    if not destination.exists():
        subprocess.run(
            ["git", "clone", "-q", str(bundle), str(destination)], check=True, capture_output=True
        )
    return destination


@dataclass(frozen=True)
class Verdict:
    """What Hydra's own compose gave at one commit under one version base."""

    ok: bool
    digest: str  # the corpus hash of the composed config, or the error text

    @classmethod
    def parse(cls, status: str, detail: str) -> Verdict:
        ok = status.startswith("ok")
        return cls(ok, detail.split(" ", 1)[0] if ok else detail)


@dataclass(frozen=True)
class Row:
    """One first-parent config commit of one app of a project, as the corpus recorded it."""

    project: str
    app: str
    commit: str
    date: str
    primary: str  # path of the primary config file in the repository
    verdicts: dict[str | None, Verdict]  # by version_base: None (current) and "1.1"

    @property
    def folder(self) -> str:
        return self.primary.rpartition("/")[0]

    @property
    def config_name(self) -> str:
        return self.primary.rpartition("/")[2].removesuffix(".yaml")

    @property
    def overrides(self) -> tuple[str, ...]:
        return OVERRIDES.get(self.project, OVERRIDES.get(f"{self.project}/{self.app}", ()))


def rows(name: str) -> list[Row]:
    """The commits at which the project has a primary config, oldest first per app."""
    path = corpus() / f"{name}.compose-hydra-{HYDRA_VERSION}.tsv"
    found = []
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle, delimiter="\t"):
            if record["vb_none"] == "no-primary":
                continue
            verdicts = {
                None: Verdict.parse(record["vb_none"], record["vb_none_detail"]),
                "1.1": Verdict.parse(record["vb_1_1"], record["vb_1_1_detail"]),
            }
            found.append(
                Row(
                    name,
                    record["app"],
                    record["bundle_commit"],
                    record["date"],
                    record["primary"],
                    verdicts,
                )
            )
    return found


def digest(tree: dict[str, Any]) -> str:
    """The corpus hash of a composed config (its README): the ``hydra`` node left out."""
    body = {key: value for key, value in tree.items() if key != "hydra"}
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextmanager
def config_store(name: str) -> Iterator[None]:
    """The project's schemas in Hydra's ConfigStore while composing it; removed afterwards."""
    store = ConfigStore.instance()
    stored = list(STUBS.get(name, ()))
    for group, node in stored:
        store.store(group=group, name=node, node={})
    if name in SCHEMA_MODULES:
        stored += importlib.import_module(SCHEMA_MODULES[name]).register()
    try:
        yield
    finally:
        for group, node in stored:
            forget(group, node)


def forget(group: str | None, name: str) -> None:
    """Remove one node from Hydra's ConfigStore (registered by a test, for that test only)."""
    folder = ConfigStore.instance().repo
    for part in (group or "").split("/") if group else ():
        folder = folder[part]
    folder.pop(f"{name}.yaml", None)
