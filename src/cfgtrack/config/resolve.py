"""OmegaConf config -> plain containers, resolving every leaf that resolves.

One unresolvable interpolation (``${hydra:...}`` outside a run, a missing ``${oc.env:...}``)
must not hide the rest of the config, so resolution falls back to node by node and keeps the
text of the leaves that fail, reporting their paths. Shared by the run recorder (inside a run)
and by composing configs for comparison (outside one).
"""

from __future__ import annotations

from typing import Any

from omegaconf import MISSING, Container, DictConfig, ListConfig, Node, OmegaConf

from cfgtrack.config.flatten import SEPARATOR

Path = tuple[Any, ...]


def node_value(node: Node, path: Path, unresolved: list[Path]) -> Any:
    """The plain value of ``node``, resolved where it resolves (recursing into containers).

    Paths of leaves kept as interpolation text, or missing (``???``), go to ``unresolved``.
    """
    if node._is_interpolation():
        try:
            node = node._dereference_node()
        except Exception:  # any resolver may raise anything: the text is kept
            unresolved.append(path)
            return node._value()
    if node._is_missing():
        unresolved.append(path)
        return MISSING
    if isinstance(node, (DictConfig, ListConfig)):
        if node._is_none():
            return None
        return _container_value(node, path, unresolved)
    return node._value()


def _container_value(container: Container, path: Path, unresolved: list[Path]) -> Any:
    if isinstance(container, ListConfig):
        return [
            node_value(container._get_node(index), (*path, index), unresolved)
            for index in range(len(container))
        ]
    return {
        key: node_value(container._get_node(key), (*path, key), unresolved) for key in container
    }


def resolve_config(config: DictConfig | ListConfig) -> tuple[Any, list[str]]:
    """``(plain tree, key paths that did not resolve)`` for a config.

    The whole config resolves in one pass when it can; only a config with a failing leaf is
    walked node by node.
    """
    try:
        return OmegaConf.to_container(config, resolve=True, throw_on_missing=True), []
    except Exception:  # any resolver may raise anything
        unresolved: list[Path] = []
        tree = _container_value(config, (), unresolved)
        return tree, [SEPARATOR.join(str(segment) for segment in path) for path in unresolved]
