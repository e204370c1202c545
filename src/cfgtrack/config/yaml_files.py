"""The one YAML loader: config files read from a folder or from bytes, parsed once per content."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from omegaconf._utils import get_yaml_loader

from cfgtrack.errors import CfgtrackError


class FolderFiles(Mapping[str, bytes]):
    """The ``.yaml`` files under a folder as a mapping, read on access."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._names: list[str] | None = None

    def _list(self) -> list[str]:
        if self._names is None:
            names = []
            for folder, dirs, files in os.walk(self._root, followlinks=True):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
                relative = Path(folder).relative_to(self._root).as_posix()
                prefix = "" if relative == "." else f"{relative}/"
                names.extend(f"{prefix}{name}" for name in sorted(files) if name.endswith(".yaml"))
            self._names = names
        return self._names

    def __getitem__(self, name: str) -> bytes:
        if name not in self._list():
            raise KeyError(name)
        return (self._root / name).read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._list())

    def __len__(self) -> int:
        return len(self._list())


@lru_cache(maxsize=256)
def _parse_cached(data: bytes) -> Any:
    """Parse cached by content alone: files unchanged across revisions parse once."""
    return yaml.load(data.decode("utf-8"), Loader=get_yaml_loader())


def parse_yaml(data: bytes, shown: str) -> Any:
    """Config YAML bytes -> plain object, read as Hydra reads it (shared with the cache: never
    mutate); errors name the file and line."""
    return load_yaml(data, shown, _parse_cached)


def load_yaml(data: bytes, shown: str, parse: Callable[[bytes], Any] | None = None) -> Any:
    """YAML bytes -> plain object with ``parse`` (default: Hydra's loader); every problem is one
    ``CfgtrackError`` naming ``shown`` (and the line)."""
    try:
        return (parse or _parse_cached)(data)
    except UnicodeDecodeError as exc:
        raise CfgtrackError(f"{shown}: not UTF-8 text ({exc.reason}); fix the file") from None
    except RecursionError:
        raise CfgtrackError(f"{shown}: nested too deeply to read; fix the file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark is not None else shown
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, started = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and started is not None and started.line != getattr(mark, "line", None):
            problem = f"{problem}; {context} started at line {started.line + 1}"
        raise CfgtrackError(f"{where}: not valid YAML ({problem}); fix the file") from None
