"""A composed config as every verb reads it: resolved, flattened, written as Hydra writes values,
with run- and machine-specific leaves kept as their text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath
from typing import Any

from cfgtrack.config.flatten import flatten, leaf_key
from cfgtrack.config.interpolation import resolve_tree
from cfgtrack.config.run_specific import restore_texts, run_specific_texts


@dataclass(frozen=True)
class ComposedConfig:
    """A composed config with the ``hydra`` node dropped.

    ``values`` maps flat key paths (cfgtrack.flatten) to values, resolved where they resolve;
    ``unresolved`` names the paths whose value is kept as interpolation text because it only
    resolves inside a run (or is ``???``); ``choices`` are the config-group choices (``hydra/*``
    left out; a multi-select choice is its options joined with ``,``); ``tree`` is the nested
    plain container under the same rules.
    """

    values: dict[str, Any]
    unresolved: frozenset[str]
    choices: dict[str, str]
    tree: dict[str, Any]
    # flat key -> unresolved text, for values that interpolate (what ``${oc.env:API_KEY}`` resolved
    # to is a secret whatever it looks like)
    references: dict[str, Any] = field(default_factory=dict)


def resolved(
    composed: tuple[dict[str, Any], dict[str, str]], machine_env: Sequence[str]
) -> ComposedConfig:
    """Resolve, keeping run- and machine-specific leaves as their text, as a run's config hash
    does (``cfgtrack.config.run_specific``)."""
    tree, choices = composed
    tree = as_written(tree)
    references = references_of(tree)
    texts = run_specific_texts(tree, machine_env)
    tree, unresolved = resolve_tree(tree)
    restore_texts(tree, texts)
    values = flatten(tree)
    return ComposedConfig(
        values=values,
        unresolved=frozenset(leaf_key(path, values) for path in [*unresolved, *texts]),
        references=references,
        choices=choices,
        tree=tree,
    )


def references_of(tree: Any) -> dict[str, Any]:
    """Flat keys whose unresolved value interpolates, with that text."""
    return {
        key: value
        for key, value in flatten(tree).items()
        if "${" in (" ".join(map(str, value)) if isinstance(value, list) else str(value))
    }


def as_written(value: Any) -> Any:
    """Values as Hydra writes them (``OmegaConf.to_yaml``): Enum members by name, paths as text.

    Structured configs (ConfigStore schemas) hold such objects; YAML files never do.
    """
    if isinstance(value, dict):
        return {key: as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_written(item) for item in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, PurePath):
        return str(value)
    return value
