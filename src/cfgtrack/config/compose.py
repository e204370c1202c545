"""Compose a Hydra config the way the app would run with it, from a folder or from file bytes.

Hydra reads configs through "config sources" chosen by URL scheme. cfgtrack registers its own:
one serves files from a mapping (a folder on disk, or blobs read from git at a revision, so no
temp folders are written), one answers for ``hydra/<group>/<option>`` configs, so a config naming
a plugin that is not installed (``hydra/job_logging: colorlog``) still composes. The ``hydra``
node is Hydra's own runtime config and is dropped from the result.

Fast path: Hydra computes the defaults list (groups, packages, overrides, ``_self_``) from
configs reduced to their ``defaults``, and the bodies are merged as plain dicts following
OmegaConf's merge rules; OmegaConf nodes are built only to resolve interpolations. This is ~10x
faster than a full compose, which matters when composing at every commit of a history. A merge
the fast path does not model (a mapping merged into a list or into an interpolation) falls back
to Hydra's own compose, which then gives Hydra's own result or error.

No ``GlobalHydra`` is initialised; the process-wide pieces a compose touches (the version base,
``HydraConfig``) are restored afterwards, so callers may compose many times in one process, even
inside a running Hydra app.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
from hydra._internal.defaults_list import create_defaults_list
from hydra._internal.sources_registry import SourcesRegistry
from hydra.conf import HydraConf
from hydra.core import utils as hydra_utils
from hydra.core.hydra_config import HydraConfig
from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.errors import HydraException, MissingConfigException
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra.types import RunMode
from hydra.version import VersionBase
from omegaconf import ListConfig, OmegaConf, open_dict
from omegaconf._utils import get_yaml_loader
from omegaconf.errors import OmegaConfBaseException
from packaging.version import Version

from cfgtrack.config.flatten import SEPARATOR, flatten, leaf_key
from cfgtrack.config.resolve import node_value
from cfgtrack.errors import CfgtrackError

HYDRA_NODE = "hydra"
MISSING = "???"
_FILES_SCHEME = "cfgtrack-files"
_HYDRA_SCHEME = "cfgtrack-hydra"
_VERSION_BASE = Version("1.3")


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


def compose_dir(
    config_dir: Path, config_name: str, overrides: Sequence[str] = ()
) -> ComposedConfig:
    """Compose ``config_name`` from the config folder ``config_dir`` with Hydra ``overrides``."""
    folder = Path(config_dir)
    if not folder.is_dir():
        raise CfgtrackError(
            f"config folder {folder} does not exist; set --config-dir or config_dir"
        )
    return _compose(FolderFiles(folder), config_name, overrides, label=str(folder))


def compose_files(
    files: Mapping[str, bytes],
    config_name: str,
    overrides: Sequence[str] = (),
    *,
    label: str = "<config files>",
) -> ComposedConfig:
    """Compose from ``files`` (path relative to the config folder -> file bytes).

    ``label`` names the config folder in error messages (for example ``conf@HEAD~3``).
    """
    return _compose(files, config_name, overrides, label=label)


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
    """YAML bytes -> plain object (shared with the cache: never mutate); errors name the file."""
    try:
        return _parse_cached(data)
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


@dataclass
class _PlainResult(ConfigResult):
    """A loaded config whose ``config`` holds only what the defaults list needs.

    ``body`` is the whole file as a plain object (shared with the parse cache: never mutate).
    """

    body: Any = None


# Each compose registers its files under a fresh token; Hydra instantiates the source from the
# search-path URL ``cfgtrack-files://<token>`` and looks the files up here.
@dataclass(frozen=True)
class _Registered:
    files: Mapping[str, bytes]
    label: str
    bodies: bool  # full configs (Hydra's own compose) or defaults-only (fast path)


_REGISTERED: dict[str, _Registered] = {}
_TOKENS = itertools.count()
_LOCK = threading.RLock()


class FilesConfigSource(ConfigSource):
    """Serves the ``.yaml`` files registered under a token: a folder on disk or blobs from git."""

    def __init__(self, provider: str, path: str) -> None:
        super().__init__(provider=provider, path=path)
        self._registered = _REGISTERED[self.path]
        self._configs = {name for name in self._registered.files if name.endswith(".yaml")}
        self._groups = {""}
        for name in self._configs:
            parts = name.split("/")[:-1]
            self._groups.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))

    def __deepcopy__(self, memo: dict[int, Any]) -> FilesConfigSource:
        return self  # immutable; Hydra deep-copies its repository once per compose

    @staticmethod
    def scheme() -> str:
        return _FILES_SCHEME

    def load_config(self, config_path: str) -> ConfigResult:
        name = self._normalize_file_name(config_path)
        if name not in self._configs:
            raise ConfigLoadError(f"Config not found : {name}")
        data = self._registered.files[name]
        shown = f"{self._registered.label.rstrip('/')}/{name}"
        try:
            header = self._get_header_dict(data[:512].decode("utf-8", errors="replace"))
        except ValueError as exc:
            raise CfgtrackError(f"{shown}: bad header line ({exc}); fix the file") from None
        body = parse_yaml(data, shown)
        if body is None:
            body = {}
        if not isinstance(body, (dict, list)):
            raise CfgtrackError(f"{shown}: holds a {type(body).__name__}, not a mapping")
        location = {"path": self.full_path(), "provider": self.provider, "header": header}
        if self._registered.bodies:
            return ConfigResult(config=OmegaConf.create(body), **location)
        return _PlainResult(config=OmegaConf.create(_defaults_part(body)), body=body, **location)

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return config_path.strip("/") in self._groups

    def is_config(self, config_path: str) -> bool:
        return self._normalize_file_name(config_path.strip("/")) in self._configs

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        group = config_path.strip("/")
        prefix = f"{group}/" if group else ""
        found: set[str] = set()
        if results_filter in (None, ObjectType.CONFIG):
            found.update(
                name[len(prefix) : -len(".yaml")]
                for name in self._configs
                if name.startswith(prefix) and "/" not in name[len(prefix) :]
            )
        if results_filter in (None, ObjectType.GROUP):
            found.update(
                name[len(prefix) :]
                for name in self._groups
                if name and name.startswith(prefix) and "/" not in name[len(prefix) :]
            )
        return sorted(found)


def _defaults_part(body: Any) -> Any:
    """What Hydra reads from a config before merging: its defaults list and hydra.searchpath."""
    if not isinstance(body, dict):
        return {}
    part: dict[str, Any] = {}
    if "defaults" in body:
        part["defaults"] = body["defaults"]
    hydra = body.get(HYDRA_NODE)
    if isinstance(hydra, dict) and "searchpath" in hydra:
        part[HYDRA_NODE] = {"searchpath": hydra["searchpath"]}
    return part


class HydraStandInSource(ConfigSource):
    """Answers for Hydra's own config groups, whose content is never compared.

    ``cfgtrack-hydra://missing`` stands in for ``hydra/<group>/<option>`` configs no installed
    package provides (``hydra/launcher: submitit_slurm``): searched after every real source, it
    only answers for options that would otherwise be missing. ``cfgtrack-hydra://all``, used by
    the fast path, also serves ``hydra/config`` with Hydra's defaults list and no body, so Hydra's
    structured config is never built.
    """

    @staticmethod
    def scheme() -> str:
        return _HYDRA_SCHEME

    def __deepcopy__(self, memo: dict[int, Any]) -> HydraStandInSource:
        return self

    @staticmethod
    def _depth(config_path: str) -> int:
        parts = config_path.strip("/").split("/")
        return len(parts) if parts[0] == HYDRA_NODE else 0

    def load_config(self, config_path: str) -> ConfigResult:
        if not self.is_config(config_path):
            raise ConfigLoadError(f"Config not found : {config_path}")
        is_root = self._depth(config_path) == 2
        content = {"defaults": _hydra_defaults()} if is_root else {}
        return _PlainResult(
            config=OmegaConf.create(content),
            path=self.full_path(),
            provider=self.provider,
            header={"package": HYDRA_NODE if is_root else None},
            body={},
        )

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return self._depth(config_path) >= (1 if self.path == "all" else 2)

    def is_config(self, config_path: str) -> bool:
        if self.path == "all" and config_path.strip("/") == f"{HYDRA_NODE}/config":
            return True
        return self._depth(config_path) >= 3

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        return []


@lru_cache(maxsize=1)
def _hydra_defaults() -> list[Any]:
    return list(HydraConf().defaults)


@lru_cache(maxsize=1)
def _setup_hydra() -> None:
    """Register cfgtrack's sources and Hydra's resolvers (``now``, ``hydra``) once per process."""
    registry = SourcesRegistry.instance()
    registry.register(FilesConfigSource)
    registry.register(HydraStandInSource)
    hydra_utils.setup_globals()


def _search_path(token: str, *, fast: bool) -> ConfigSearchPathImpl:
    search_path = ConfigSearchPathImpl()
    if not fast:
        search_path.append("hydra", "pkg://hydra.conf")
    search_path.append("main", f"{_FILES_SCHEME}://{token}")
    for plugin in Plugins.instance().discover(SearchPathPlugin):
        plugin().manipulate_search_path(search_path)
    search_path.append("cfgtrack", f"{_HYDRA_SCHEME}://{'all' if fast else 'missing'}")
    search_path.append("schema", "structured://")
    return search_path


class _NotModelled(Exception):
    """A merge the fast path leaves to Hydra's own compose."""


def _compose(
    files: Mapping[str, bytes], config_name: str, overrides: Sequence[str], *, label: str
) -> ComposedConfig:
    _setup_hydra()
    name = config_name.removesuffix(".yaml")
    with _LOCK:
        version = VersionBase.instance()
        saved_base, saved_hydra_config = version.getbase(), HydraConfig.instance().cfg
        version.setbase(_VERSION_BASE)
        HydraConfig.instance().cfg = None  # ${hydra:...} must not resolve against a live run
        try:
            try:
                tree, choices = _with_files(files, label, name, overrides, fast=True)
            except _NotModelled:
                tree, choices = _with_files(files, label, name, overrides, fast=False)
            tree, unresolved = _resolve(tree)
        except CfgtrackError:
            raise
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            raise CfgtrackError(_explain(exc, label)) from None
        except RecursionError:
            raise CfgtrackError(
                f"{label}: cannot compose the config: it nests without end (does a defaults "
                "list name the config it is in?) or too deeply"
            ) from None
        finally:
            HydraConfig.instance().cfg = saved_hydra_config
            version.version_base = saved_base
    values = flatten(tree)
    return ComposedConfig(
        values=values,
        unresolved=frozenset(leaf_key(path, values) for path in unresolved),
        choices=choices,
        tree=tree,
    )


def _with_files(
    files: Mapping[str, bytes], label: str, name: str, overrides: Sequence[str], *, fast: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Register ``files`` for the duration of one compose (fast path or Hydra's own)."""
    token = str(next(_TOKENS))
    _REGISTERED[token] = _Registered(files=files, label=label, bodies=not fast)
    try:
        loader = ConfigLoaderImpl(config_search_path=_search_path(token, fast=fast))
        if not loader.repository.config_exists(name):
            available = ", ".join(_top_level_configs(files)) or "none"
            raise CfgtrackError(
                f"{label}: no config named {name!r}; available: {available}"
                " (set --config-name or config_name)"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return (_compose_fast if fast else _compose_hydra)(loader, name, overrides)
    finally:
        del _REGISTERED[token]


def _compose_hydra(
    loader: ConfigLoaderImpl, name: str, overrides: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Hydra's own compose (slow, complete); the reference the fast path follows."""
    cfg = loader.load_configuration(
        config_name=name, overrides=list(overrides), run_mode=RunMode.RUN, from_shell=False
    )
    choices = _choices(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg[HYDRA_NODE]
    tree = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(tree, dict)
    return tree, choices


def _compose_fast(
    loader: ConfigLoaderImpl, name: str, overrides: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Hydra's defaults list, then a plain-dict merge of the bodies in that order."""
    parsed, repo = loader._parse_overrides_and_create_caching_repo(name, list(overrides))
    loader.validate_sweep_overrides_legal(parsed, run_mode=RunMode.RUN, from_shell=False)
    defaults = create_defaults_list(
        repo=repo, config_name=name, overrides_list=parsed, prepend_hydra=True, skip_missing=False
    )
    tree: dict[str, Any] = {}
    for default in defaults.defaults:
        loaded = repo.load_config(default.config_path)
        assert loaded is not None
        if isinstance(loaded, _PlainResult):
            body = loaded.body
            if isinstance(body, dict) and "defaults" in body:
                body = {key: value for key, value in body.items() if key != "defaults"}
        else:  # a structured config from ConfigStore or a plugin's package
            body = OmegaConf.to_container(loaded.config, resolve=False)
        package = default.package if default.package is not None else loaded.header["package"]
        if package:
            for segment in reversed(package.split(SEPARATOR)):
                body = {segment: body}
        if not isinstance(body, dict):
            raise _NotModelled
        _merge(tree, body)
    tree.pop(HYDRA_NODE, None)
    value_overrides = [o for o in defaults.config_overrides if not o.is_hydra_override()]
    if value_overrides:
        cfg = OmegaConf.create(tree)
        OmegaConf.set_struct(cfg, True)
        ConfigLoaderImpl._apply_overrides_to_config(value_overrides, cfg)
        tree = OmegaConf.to_container(cfg, resolve=False)
    return tree, _choices(defaults.overrides.known_choices)


def _merge(dest: dict[Any, Any], src: Mapping[Any, Any]) -> None:
    """Merge ``src`` into ``dest`` as OmegaConf does for plain YAML content.

    Mappings merge key by key; anything else replaces; ``???`` never replaces a value.
    """
    for key, value in src.items():
        if key not in dest:
            dest[key] = _copy(value)
            continue
        current = dest[key]
        if isinstance(value, dict):
            if isinstance(current, dict):
                _merge(current, value)
                continue
            if isinstance(current, list) or (isinstance(current, str) and "${" in current):
                raise _NotModelled
        elif isinstance(value, list) and isinstance(current, dict):
            raise _NotModelled
        elif value == MISSING and isinstance(value, str):
            continue
        dest[key] = _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _choices(known: Mapping[str, Any]) -> dict[str, str]:
    choices = {}
    for group, choice in known.items():
        if group.startswith(f"{HYDRA_NODE}/") or choice is None:
            continue
        is_list = isinstance(choice, (list, tuple, ListConfig))
        choices[group] = ",".join(map(str, choice)) if is_list else str(choice)
    return choices


def _top_level_configs(files: Mapping[str, bytes]) -> list[str]:
    return sorted(name.removesuffix(".yaml") for name in files if "/" not in name)


def _interpolated(value: Any, path: tuple[Any, ...], found: list[tuple[Any, ...]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _interpolated(item, (*path, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _interpolated(item, (*path, index), found)
    elif isinstance(value, str) and ("${" in value or value == MISSING):
        found.append(path)


def _resolve(tree: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """Resolve interpolations leaf by leaf; a leaf that fails keeps its text and is reported.

    Plain references to scalars (``${data.path}``) and lone calls of the standalone resolvers
    (``${oc.env:X}``, ``${hydra:...}``, ``${now:...}``) resolve without building OmegaConf nodes
    for the whole tree; anything else (relative keys, nested interpolations, references to
    mappings, other resolvers) resolves through OmegaConf.
    """
    candidates: list[tuple[Any, ...]] = []
    _interpolated(tree, (), candidates)
    if not candidates:
        return tree, []
    try:
        values, unresolved = _PlainResolver(tree).resolve_all(candidates)
    except _NotModelled:
        values, unresolved = _omegaconf_resolve(tree, candidates)
    for path, value in values.items():
        _set(tree, path, value)
    return tree, unresolved


# resolved values by leaf path, and the paths that did not resolve
_Resolved = tuple[dict[tuple[Any, ...], Any], list[tuple[Any, ...]]]
_REFERENCE = re.compile(r"\$\{([\w\-]+(?:\.[\w\-]+)*)\}")
_STANDALONE = re.compile(r"\$\{(hydra|now|oc\.env|python_version):[^${}\\]*\}")


class _PlainResolver:
    """Resolves the common interpolations on the plain tree; raises _NotModelled otherwise."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self._tree = tree
        self._done: dict[tuple[Any, ...], tuple[bool, Any]] = {}
        self._active: set[tuple[Any, ...]] = set()

    def resolve_all(self, paths: list[tuple[Any, ...]]) -> _Resolved:
        results = {path: self._leaf(path) for path in paths}
        values = {path: value for path, (_, value) in results.items()}
        return values, [path for path, (ok, _) in results.items() if not ok]

    def _leaf(self, path: tuple[Any, ...]) -> tuple[bool, Any]:
        if path in self._done:
            return self._done[path]
        if path in self._active:
            raise _NotModelled  # a cycle: OmegaConf reports it
        text = _get(self._tree, path)
        self._active.add(path)
        try:
            result = self._text(text)
        finally:
            self._active.discard(path)
        self._done[path] = result
        return result

    def _text(self, text: str) -> tuple[bool, Any]:
        if text == MISSING:
            return False, text
        if "\\" in text:
            raise _NotModelled
        if text.count("${") == 1 and _STANDALONE.search(text):
            return _standalone(text)
        pieces = _REFERENCE.split(text)
        if "${" in "".join(pieces[0::2]):
            raise _NotModelled
        values = []
        for reference in pieces[1::2]:
            ok, value = self._target(tuple(reference.split(SEPARATOR)))
            if not ok:
                return False, text
            values.append(value)
        if len(pieces) == 3 and pieces[0] == pieces[2] == "":
            return True, values[0]
        return True, "".join(
            piece if index % 2 == 0 else str(values[index // 2])
            for index, piece in enumerate(pieces)
        )

    def _target(self, segments: tuple[str, ...]) -> tuple[bool, Any]:
        node: Any = self._tree
        path: list[Any] = []
        for segment in segments:
            if isinstance(node, dict) and segment in node:
                path.append(segment)
            elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
                path.append(int(segment))
            else:
                raise _NotModelled
            node = node[path[-1]]
        if isinstance(node, (dict, list)):
            raise _NotModelled
        if isinstance(node, str) and ("${" in node or node == MISSING):
            return self._leaf(tuple(path))
        return True, node


def _standalone(text: str) -> tuple[bool, Any]:
    """Evaluate a lone resolver call that reads no other key, in a one-key config."""
    node = OmegaConf.create({"value": text})._get_node("value")
    try:
        return True, node._dereference_node()._value()
    except Exception:  # any resolver may raise anything: the text is kept
        return False, text


def _omegaconf_resolve(tree: dict[str, Any], paths: list[tuple[Any, ...]]) -> _Resolved:
    """Resolve ``paths`` through OmegaConf nodes built for the whole tree."""
    cfg = OmegaConf.create(tree)
    values: dict[tuple[Any, ...], Any] = {}
    unresolved: list[tuple[Any, ...]] = []
    for path in paths:
        node: Any = cfg
        for segment in path:
            node = node._get_node(segment)
        values[path] = node_value(node, path, unresolved)
    return values, unresolved


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for segment in path:
        tree = tree[segment]
    return tree


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(tree, path[:-1])[path[-1]] = value


def _explain(exc: BaseException, label: str) -> str:
    """One line for a Hydra or OmegaConf error, naming what to fix."""
    if isinstance(exc, MissingConfigException) and exc.options is not None:
        group, _, option = (exc.missing_cfg_file or "").rpartition("/")
        options = ", ".join(exc.options) or "none"
        return f"{label}: config group {group!r} has no option {option!r}; available: {options}"
    parts: list[str] = []
    cause: BaseException | None = exc
    while cause is not None:
        text = str(cause).strip()
        if isinstance(cause, OmegaConfBaseException):
            text = text.split("\n", 1)[0]  # drop OmegaConf's full_key/object_type lines
        text = " ".join(text.split())
        if text and text not in parts:
            parts.append(text)
        cause = cause.__cause__
    text = "; ".join(parts) or type(exc).__name__
    return f"{label}: cannot compose the config: {text}"
