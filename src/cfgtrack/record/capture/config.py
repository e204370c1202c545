"""What a run's config was: resolved and unresolved trees, overrides, choices, command, hash."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import PurePath
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from cfgtrack.config.flatten import top_level
from cfgtrack.config.resolve import resolve_config


def select_list(config: DictConfig, key: str) -> list[str]:
    """Hydra's list at ``key`` as written: an override's ``${...}`` is text the user typed, not a
    reference to resolve (and it may not resolve at all)."""
    value = OmegaConf.select(config, key, default=None)
    if not isinstance(value, ListConfig):
        return []
    return [str(item) for item in OmegaConf.to_container(value, resolve=False)]


def capture_config(config: DictConfig) -> dict[str, Any]:
    """Capture the job config Hydra passes to callbacks (the ``hydra`` node included).

    The ``hydra`` node is recorded under ``hydra`` but kept out of ``resolved`` and the hash:
    it describes Hydra's runtime, not the experiment.
    """
    resolved, unresolved_keys = resolve_config(config)
    unresolved = OmegaConf.to_container(config, resolve=False)
    hydra_tree = resolved.pop("hydra", None)
    unresolved.pop("hydra", None)
    choices = OmegaConf.select(config, "hydra.runtime.choices", default=None)
    return storable(
        {
            "resolved": resolved,
            "unresolved": unresolved,
            "unresolved_keys": [key for key in unresolved_keys if top_level(key) != "hydra"],
            "overrides": select_list(config, "hydra.overrides.task"),
            "hydra_overrides": select_list(config, "hydra.overrides.hydra"),
            "choices": dict(OmegaConf.to_container(choices)) if choices is not None else {},
            "command": [sys.executable, *sys.argv],
            "config_name": OmegaConf.select(config, "hydra.job.config_name", default=None),
            "hydra": hydra_tree,
        }
    )


def storable(tree: Any) -> Any:
    """``tree`` with its values as Hydra writes them (``OmegaConf.to_yaml``): an Enum member as
    its name, a path as its text; and text no UTF-8 file or MLflow store can hold made
    storable: a lone surrogate (YAML's ``"\\ud800"``, undecodable bytes on the command line)
    becomes its escape text ``\\ud800``. Everything else is returned as it is."""
    if isinstance(tree, str):
        return tree if tree.isascii() or _encodes(tree) else _escaped(tree)
    if isinstance(tree, dict):
        return {storable(key): storable(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [storable(value) for value in tree]
    if isinstance(tree, Enum):
        return tree.name
    if isinstance(tree, PurePath):
        return storable(str(tree))
    return tree


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
