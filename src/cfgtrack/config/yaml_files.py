"""The one YAML loader: config files read from a folder or from bytes, parsed once per content."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from omegaconf._utils import get_yaml_loader

from cfgtrack.errors import CfgtrackError


def yaml_paths(root: Path, suffixes: tuple[str, ...] = (".yaml", ".yml")) -> list[Path]:
    """The YAML files under ``root`` in a stable order. Linked folders are followed (config
    groups are often links), but never into a folder that contains the link (a loop), so a
    symlink loop ends the walk instead of making it endless or exponential."""
    found: list[Path] = []
    ancestors = {str(root): frozenset({os.path.realpath(root)})}
    for folder, dirs, files in os.walk(root, followlinks=True):
        above = ancestors.pop(folder, frozenset())
        kept = []
        for name in sorted(dirs):
            if name.startswith(".") or name == "__pycache__":
                continue
            real = os.path.realpath(os.path.join(folder, name))
            if real not in above:
                ancestors[os.path.join(folder, name)] = above | {real}
                kept.append(name)
        dirs[:] = kept
        found.extend(Path(folder) / name for name in sorted(files) if name.endswith(suffixes))
    return found


class FolderFiles(Mapping[str, bytes]):
    """The ``.yaml`` files under a folder as a mapping, read on access."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._names: list[str] | None = None

    def _list(self) -> list[str]:
        if self._names is None:
            self._names = [
                path.relative_to(self._root).as_posix()
                for path in yaml_paths(self._root, (".yaml",))
            ]
        return self._names

    def __getitem__(self, name: str) -> bytes:
        if name not in self._list():
            raise KeyError(name)
        return (self._root / name).read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._list())

    def __len__(self) -> int:
        return len(self._list())


MAX_YAML_BYTES = 32 * 1024 * 1024  # far beyond any config; a bigger file is data, not config
MAX_NODES = 5_000_000  # values once every alias is expanded (a 100k-leaf config is ~0.2M)


@lru_cache(maxsize=1)
def config_loader() -> type:
    """OmegaConf's YAML rules (its float rule, no timestamps, duplicate keys refused, ``Path``
    tags) over libyaml's parser where PyYAML has it: the same trees, parsed several times faster,
    which a history walk parsing each changed file of every commit needs."""
    rules = get_yaml_loader()
    parser = getattr(yaml, "CSafeLoader", None)
    if parser is None:
        return rules

    class Loader(parser):  # type: ignore[misc, valid-type]
        yaml_implicit_resolvers = rules.yaml_implicit_resolvers
        yaml_constructors = rules.yaml_constructors

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
            keys = set()
            for key_node, _ in node.value:
                if key_node.tag != yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                    continue
                if key_node.value in keys:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value}",
                        key_node.start_mark,
                    )
                keys.add(key_node.value)
            return yaml.constructor.SafeConstructor.construct_mapping(self, node, deep=deep)

    return Loader


@lru_cache(maxsize=256)
def _parse_cached(data: bytes) -> Any:
    """Parse cached by content alone: files unchanged across revisions parse once."""
    return _parse(data, config_loader())


def _parse(data: bytes, loader: type) -> Any:
    tree = yaml.load(data.decode("utf-8"), Loader=loader)
    _check_expansion(tree)
    return tree


def _check_expansion(tree: Any) -> None:
    """Refuse a tree whose aliases expand past ``MAX_NODES`` values (a "billion laughs"): every
    later step copies it whole. Shared nodes are sized once, so this costs one pass."""
    sizes: dict[int, int] = {}
    pending: list[tuple[Any, bool]] = [(tree, False)]
    while pending:
        node, children_done = pending.pop()
        if not isinstance(node, (dict, list)) or (id(node) in sizes and not children_done):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if not children_done:
            sizes[id(node)] = -1  # in progress: a node that contains itself never ends
            pending.append((node, True))
            for child in children:
                if isinstance(child, (dict, list)) and sizes.get(id(child)) == -1:
                    raise _Expansion("an alias refers to the node that contains it")
                pending.append((child, False))
            continue
        size = 1 + sum(sizes.get(id(c), 1) if isinstance(c, (dict, list)) else 1 for c in children)
        if size > MAX_NODES:
            raise _Expansion(f"its aliases expand to over {MAX_NODES:,} values")
        sizes[id(node)] = size


class _Expansion(ValueError):
    """A YAML tree too big once its aliases are expanded."""


def parse_yaml(data: bytes, shown: str, loader: type | None = None) -> Any:
    """YAML bytes -> plain object (shared with the cache: never mutate); errors name the file.
    ``loader``: another PyYAML loader (uncached), e.g. one that records line numbers."""
    if len(data) > MAX_YAML_BYTES:
        raise CfgtrackError(
            f"{shown}: {len(data):,} bytes, over the {MAX_YAML_BYTES // 2**20} MiB a config file "
            "may have; is it data rather than config?"
        )
    try:
        return _parse_cached(data) if loader is None else _parse(data, loader)
    except UnicodeDecodeError as exc:
        raise CfgtrackError(f"{shown}: not UTF-8 text ({exc.reason}); fix the file") from None
    except RecursionError:
        raise CfgtrackError(f"{shown}: nested too deeply to read; fix the file") from None
    except _Expansion as exc:
        raise CfgtrackError(f"{shown}: too big to read ({exc}); fix the file") from None
    except ValueError as exc:  # a value PyYAML cannot build, e.g. an integer of 5,000 digits
        problem = str(exc).split(";")[0]
        raise CfgtrackError(f"{shown}: a value cannot be read ({problem}); fix the file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark is not None else shown
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "maximum nesting depth" in problem:  # libyaml's own limit
            raise CfgtrackError(f"{shown}: nested too deeply to read; fix the file") from None
        context, started = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and started is not None and started.line != getattr(mark, "line", None):
            problem = f"{problem}; {context} started at line {started.line + 1}"
        raise CfgtrackError(f"{where}: not valid YAML ({problem}); fix the file") from None
