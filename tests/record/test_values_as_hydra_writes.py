"""Structured-config values recorded as Hydra writes them: an Enum member by name, a Path as
text, in params, config.yaml, config.unresolved.yaml and record.json (the hydra node too)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from support.git import commit, init_repo
from support.project import Project

APP = """\
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from hydra.core.config_store import ConfigStore

import cfgtrack


class Kern(Enum):
    linear = 1
    poly = 2


@dataclass
class Model:
    kernel: Kern = Kern.poly
    data: Path = Path("../data")
    source: str = "${model.data}"


@dataclass
class Config:
    model: Model = field(default_factory=Model)
    kernels: list[Kern] = field(default_factory=lambda: [Kern.linear, Kern.poly])


ConfigStore.instance().store(name="schema", node=Config)


@cfgtrack.track(config_path=None, config_name="schema", version_base="1.3")
def main(cfg):
    print("TASK-RAN", cfg.model.kernel, flush=True)


if __name__ == "__main__":
    main()
"""


def test_enum_and_path_values_match_hydras_own_yaml(tmp_path: Path):
    root = init_repo(tmp_path / "project")
    commit(root, "structured app", {"svm.py": APP, ".gitignore": "outputs/\nmlflow.db\n"})
    project = Project(root, None)
    result = project.run("model.kernel=linear", script="svm.py")
    assert result.returncode == 0, result.stderr
    [run] = project.runs("schema")
    assert run.data.params["model.kernel"] == "linear"
    assert run.data.params["model.data"] == "../data"
    assert run.data.params["model.source"] == "../data"
    assert run.data.params["kernels"] == '["linear", "poly"]'

    output_dir = Path(run.data.tags["cfgtrack.output_dir"])
    hydras = _as_text(yaml.unsafe_load((output_dir / ".hydra/config.yaml").read_text()))
    ours = (output_dir / "cfgtrack/config.yaml").read_text()
    unresolved = (output_dir / "cfgtrack/config.unresolved.yaml").read_text()
    assert "kernel: linear" in ours and "data: ../data" in ours and "PosixPath" not in ours
    resolved_model = {"kernel": "linear", "data": "../data", "source": "../data"}
    assert yaml.safe_load(ours) == {**hydras, "model": resolved_model}
    assert yaml.safe_load(unresolved) == hydras

    record = json.loads((output_dir / "cfgtrack/record.json").read_text())
    config = record["config"]
    assert config["resolved"]["model"] == {
        "kernel": "linear",
        "data": "../data",
        "source": "../data",
    }
    assert config["hydra"]["mode"] == "RUN" and record["run"]["mode"] == "RUN"
    saved_hydra = yaml.safe_load((output_dir / ".hydra/hydra.yaml").read_text())["hydra"]
    assert config["hydra"]["mode"] == saved_hydra["mode"]


def _as_text(tree):
    """Hydra's saved config (``OmegaConf.to_yaml``: Enum members by name already; a Path as a
    ``!!python/object`` tag in omegaconf 2.3) with each Path as its text."""
    if isinstance(tree, dict):
        return {key: _as_text(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_as_text(value) for value in tree]
    return str(tree) if isinstance(tree, Path) else tree
