"""OmegaConf config -> plain containers, resolving every leaf that resolves.

One unresolvable interpolation (``${hydra:...}`` outside a run, a missing ``${oc.env:...}``)
must not hide the rest of the config, so resolution falls back to leaf by leaf and keeps the
text of the leaves that fail, reporting their key paths.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from cfgtrack.flatten import SEPARATOR


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}{SEPARATOR}{key}" if prefix else str(key)


def _raw_text(container: DictConfig | ListConfig, key: Any) -> Any:
    node = container._get_node(key)
    return node._value() if node is not None else None


def _leafwise(container: DictConfig | ListConfig, prefix: str, unresolved: list[str]) -> Any:
    keys = list(container.keys()) if isinstance(container, DictConfig) else range(len(container))
    plain: Any = {} if isinstance(container, DictConfig) else []
    for key in keys:
        path = _join(prefix, key)
        try:
            child = container[key]
        except Exception:
            unresolved.append(path)
            value = _raw_text(container, key)
        else:
            if isinstance(child, (DictConfig, ListConfig)):
                value = to_plain_tree(child, path, unresolved)
            else:
                value = child
        if isinstance(plain, dict):
            plain[str(key)] = value
        else:
            plain.append(value)
    return plain


def to_plain_tree(
    config: DictConfig | ListConfig, prefix: str = "", unresolved: list[str] | None = None
) -> Any:
    """Plain dicts/lists with every resolvable interpolation resolved.

    Key paths of leaves kept as their interpolation text are appended to ``unresolved``.
    """
    sink = unresolved if unresolved is not None else []
    try:
        return OmegaConf.to_container(config, resolve=True, throw_on_missing=False)
    except Exception:
        return _leafwise(config, prefix, sink)


def resolve_config(config: DictConfig | ListConfig) -> tuple[Any, list[str]]:
    """``(plain tree, key paths that did not resolve)`` for a config."""
    unresolved: list[str] = []
    tree = to_plain_tree(config, "", unresolved)
    return tree, unresolved
