"""The ConfigStore schema of the corpus's hydra-somewhat-advanced project, rebuilt from its
description in the corpus manifest (dataclasses, an Enum field ``kernel``, a ``pathlib.Path``
field): the project's own ``main.py`` is not in the corpus.

Its nodes were stored as ``dataset/schema/<name>`` with package ``dataset`` until 2022 and as
``dataset/<name>`` since 2024; both layouts are registered, as each era's configs name one.
Importing the module registers them (as an app's schema module does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class Kern(Enum):
    Linear = 1
    Poly = 2
    RBF = 3


@dataclass
class DatasetConfig:
    dir: Any = MISSING


@dataclass
class AdultConfig(DatasetConfig):
    bins: int = 10


@dataclass
class CmnistConfig(DatasetConfig):
    padding: int = 0
    colours: list[str] = field(default_factory=lambda: ["red", "green"])


@dataclass
class SvmConfig:
    C: float = 1.0
    kernel: Kern = Kern.RBF


@dataclass
class MlpConfig:
    hidden_units: int = 10


@dataclass
class PrimaryConfig:
    dataset: Any = MISSING
    model: Any = MISSING
    seed: int = 0
    data_pcnt: float = 1.0
    use_wandb: bool = False
    out: Path = Path("results")


def register() -> list[tuple[str | None, str]]:
    """Store the nodes; returns them as ``(group, name)``."""
    store = ConfigStore.instance()
    store.store(name="primary_schema", node=PrimaryConfig)
    stored: list[tuple[str | None, str]] = [(None, "primary_schema")]
    for group, name, node in (
        ("dataset", "adult", AdultConfig),
        ("dataset", "cmnist", CmnistConfig),
        ("model", "svm", SvmConfig),
        ("model", "mlp", MlpConfig),
    ):
        store.store(group=group, name=name, node=node)
        store.store(group=f"{group}/schema", name=name, node=node, package=group)
        stored += [(group, name), (f"{group}/schema", name)]
    return stored


register()
