"""Hydra config sources cfgtrack registers (the one place that uses Hydra's private loader APIs).

One serves files from a mapping (a folder on disk, or blobs read from git at a revision, so no
temp folders are written); one answers for ``hydra/<group>/<option>`` configs, so a config naming
a plugin that is not installed (``hydra/job_logging: colorlog``) still composes.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from hydra._internal.config_repository import ConfigRepository
from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
from hydra._internal.sources_registry import SourcesRegistry
from hydra.conf import HydraConf
from hydra.core import utils as hydra_utils
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra.version import VersionBase
from omegaconf import OmegaConf

from cfgtrack.config.yaml_files import parse_yaml
from cfgtrack.errors import CfgtrackError

HYDRA_NODE = "hydra"
FILES_SCHEME = "cfgtrack-files"
HYDRA_SCHEME = "cfgtrack-hydra"
STAND_IN_PROVIDER = "cfgtrack"


@dataclass
class PlainResult(ConfigResult):
    """A loaded config whose ``config`` holds only what the defaults list needs.

    ``body`` is the whole file as a plain object (shared with the parse cache: never mutate).
    """

    body: Any = None


# Each compose registers its files under a fresh token; Hydra instantiates the source from the
# search-path URL ``cfgtrack-files://<token>`` and looks the files up here.
@dataclass(frozen=True)
class Registered:
    files: Mapping[str, bytes]
    label: str
    bodies: bool  # full configs (Hydra's own compose) or defaults-only (fast path)


REGISTERED: dict[str, Registered] = {}
TOKENS = itertools.count()
LOCK = threading.RLock()
LOADED_LIMIT = 2048  # configs loaded for the fast path, kept across composes
_LOADED: dict[tuple[Any, ...], ConfigResult | None] = {}


def register(files: Mapping[str, bytes], label: str, *, bodies: bool) -> str:
    """Serve ``files`` under a fresh token until ``REGISTERED`` drops it."""
    token = str(next(TOKENS))
    REGISTERED[token] = Registered(files=files, label=label, bodies=bodies)
    return token


class SearchPathRepository(ConfigRepository):
    """Hydra's config repository, serving some ``hydra.searchpath`` entries from a mapping.

    A relative ``file://`` search path names a folder of the project; composing at a revision,
    that folder must be read as of the same revision, not from the work tree. ``folders`` maps
    such an entry (its exact text) to that folder's files; ``tokens`` collects the registrations
    made, for the caller to drop.
    """

    def __init__(
        self,
        search_path: ConfigSearchPath,
        folders: Mapping[str, Mapping[str, bytes]],
        *,
        bodies: bool,
        tokens: list[str],
    ) -> None:
        self._folders, self._bodies, self._tokens = folders, bodies, tokens
        super().__init__(search_path)

    def load_config(self, config_path: str) -> ConfigResult | None:
        """Hydra's loaded config; on the fast path the same file at another commit (same bytes,
        same rules) is loaded once per process, since a history walk composes the same files
        again and again. The result is only read: its defaults list is copied before use."""
        source = self._find_object_source(config_path, ObjectType.CONFIG)
        if self._bodies or not isinstance(source, FilesConfigSource):
            return super().load_config(config_path)
        key = (
            config_path,
            source.provider,
            source.data(config_path),
            VersionBase.instance().getbase(),
        )
        with LOCK:
            loaded = _LOADED.pop(key, None)
            if loaded is None:
                loaded = super().load_config(config_path)
            _LOADED[key] = loaded  # the most recently used last
            while len(_LOADED) > LOADED_LIMIT:
                del _LOADED[next(iter(_LOADED))]
        return None if loaded is None else replace(loaded, path=source.full_path())

    def initialize_sources(self, config_search_path: ConfigSearchPath) -> None:
        mapped = ConfigSearchPathImpl()
        for element in config_search_path.get_path():
            path = element.path or ""
            if path in self._folders:
                label = path.removeprefix("file://")
                token = register(self._folders[path], label, bodies=self._bodies)
                self._tokens.append(token)
                path = f"{FILES_SCHEME}://{token}"
            mapped.append(element.provider or "", path)
        super().initialize_sources(mapped)


def relative_search_folders(body: Any) -> list[str]:
    """The relative folder entries of a primary config's ``hydra.searchpath`` (``file://x`` or
    a plain ``x``, which Hydra reads as a file path)."""
    hydra = body.get(HYDRA_NODE) if isinstance(body, dict) else None
    entries = hydra.get("searchpath") if isinstance(hydra, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, str)
        and (entry.startswith("file://") or "://" not in entry)  # Hydra: no scheme is a file
        and not entry.removeprefix("file://").startswith("/")
    ]


class FilesConfigSource(ConfigSource):
    """Serves the ``.yaml`` files registered under a token: a folder on disk or blobs from git."""

    def __init__(self, provider: str, path: str) -> None:
        super().__init__(provider=provider, path=path)
        self._registered = REGISTERED[self.path]
        self._configs = {name for name in self._registered.files if name.endswith(".yaml")}
        self._groups = {""}
        for name in self._configs:
            parts = name.split("/")[:-1]
            self._groups.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))

    def __deepcopy__(self, memo: dict[int, Any]) -> FilesConfigSource:
        return self  # immutable; Hydra deep-copies its repository once per compose

    @staticmethod
    def scheme() -> str:
        return FILES_SCHEME

    def data(self, config_path: str) -> bytes | None:
        """The bytes of a config file this source serves (None: it serves no such file)."""
        name = self._normalize_file_name(config_path)
        return self._registered.files[name] if name in self._configs else None

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
        return PlainResult(config=OmegaConf.create(_defaults_part(body)), body=body, **location)

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
        return HYDRA_SCHEME

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
        return PlainResult(
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
def setup_hydra() -> None:
    """Register cfgtrack's sources and Hydra's resolvers (``now``, ``hydra``) once per process."""
    registry = SourcesRegistry.instance()
    registry.register(FilesConfigSource)
    registry.register(HydraStandInSource)
    hydra_utils.setup_globals()


def search_path(token: str, *, fast: bool) -> ConfigSearchPathImpl:
    search_path = ConfigSearchPathImpl()
    if not fast:
        search_path.append("hydra", "pkg://hydra.conf")
    search_path.append("main", f"{FILES_SCHEME}://{token}")
    for plugin in Plugins.instance().discover(SearchPathPlugin):
        plugin().manipulate_search_path(search_path)
    search_path.append(STAND_IN_PROVIDER, f"{HYDRA_SCHEME}://{'all' if fast else 'missing'}")
    search_path.append("schema", "structured://")
    return search_path
