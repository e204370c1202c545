"""The one settings loader: ``[tool.cfgtrack]`` in pyproject.toml, overridden by ``CFGTRACK_*``.

Every command and the run tracker read their settings here, so a project configures cfgtrack
once and the CLI, the decorator and CI all agree.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import sys
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from cfgtrack.errors import CfgtrackError
from cfgtrack.git.repo import find_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_ENV_ALLOWLIST = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "CUBLAS_WORKSPACE_CONFIG",
    "NCCL_*",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "PYTHONHASHSEED",
    "SLURM_JOB_ID",
    "SLURM_JOB_NAME",
    "SLURM_ARRAY_*",
    "SLURM_NNODES",
    "SLURM_NTASKS",
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    "HYDRA_FULL_ERROR",
    "VIRTUAL_ENV",
    "CONDA_DEFAULT_ENV",
)

# Environment variables whose value is this machine's, not the experiment's (shell patterns):
# a config value read from one of them is compared and hashed as its ``${oc.env:...}`` text.
DEFAULT_MACHINE_ENV = (
    "PROJECT_ROOT",
    "HOME",
    "USER",
    "USERNAME",
    "LOGNAME",
    "HOSTNAME",
    "TMPDIR",
    "PWD",
    "*_DIR",
    "*_ROOT",
    "*PATH",
)

DEFAULT_ENV_GROUP = "env"
# What must be the same, besides the config hash, for a finished run to stand for a new one.
SKIP_MATCH_PARTS = ("data", "commit")
DEFAULT_SKIP_MATCH = ("data",)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwy]|seconds?|minutes?|hours?|days?|weeks?|years?)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``365d``, ``52w``, ``1y`` (or ``30s``, ``10m``, ``2h``) or a bare number of days."""
    match = _DURATION.match(str(text))
    if not match:
        raise CfgtrackError(
            f"cannot read duration {text!r}: write days, weeks or years, e.g. 365d, 52w, 1y "
            "(or seconds, minutes, hours: 30s, 10m, 2h)"
        )
    unit = (match.group(2) or "d")[0]
    try:
        return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[unit])
    except (OverflowError, ValueError):  # beyond what a timedelta (or an int) holds
        raise CfgtrackError(f"duration {text!r} is too long; keep it under 10000 years") from None


def duration_text(seconds: float) -> str:
    """A duration for people, in its largest unit and the next one as ``parse_duration`` names
    them: ``3d 4h``, ``5h 12m``, ``7d``, ``40s``; a negative one (a clock ahead) is ``0s``."""
    left = max(int(seconds), 0)
    units = [unit for unit in ("d", "h", "m", "s") if left >= _UNIT_SECONDS[unit]] or ["s"]
    count, rest = divmod(left, _UNIT_SECONDS[units[0]])
    following = {"d": "h", "h": "m", "m": "s"}.get(units[0])
    smaller = rest // _UNIT_SECONDS[following] if following else 0
    return f"{count}{units[0]} {smaller}{following}" if smaller else f"{count}{units[0]}"


def _truthy(text: str) -> bool:
    return text.strip().lower() not in {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one project; paths are absolute."""

    root: Path
    config_dir: Path
    config_name: str = "config"
    env_group: str = DEFAULT_ENV_GROUP
    stale_after: str = "365d"
    data_max_age: str | None = None
    tracking_uri: str | None = None
    experiment: str | None = None
    mlflow: bool = True
    strict: bool = False
    follow_renames: bool = True
    production_env: str = "prod"
    staging_env: str = "staging"
    version_base: str | None = None
    env_allowlist: tuple[str, ...] = DEFAULT_ENV_ALLOWLIST
    redact_keys: tuple[str, ...] = ()
    machine_env: tuple[str, ...] = DEFAULT_MACHINE_ENV
    schema_modules: tuple[str, ...] = ()
    compare_envs: tuple[str, ...] = ()
    audit_models: tuple[str, ...] = ()
    data_cache: Path = field(default_factory=lambda: default_cache_dir() / "fingerprints.json")
    tracking_timeout: float = 5.0
    heartbeat_interval: float = 30.0
    spool_dir: Path | None = None
    skip_finished: bool = False
    skip_finished_match: tuple[str, ...] = DEFAULT_SKIP_MATCH
    source: Path | None = None

    @property
    def stale_delta(self) -> timedelta:
        return parse_duration(self.stale_after)

    def resolved_tracking_uri(self) -> str:
        """Where runs go: CFGTRACK setting, then MLFLOW_TRACKING_URI, then SQLite at the root."""
        if os.environ.get("CFGTRACK_TRACKING_URI"):
            return os.environ["CFGTRACK_TRACKING_URI"]
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return os.environ["MLFLOW_TRACKING_URI"]
        if self.tracking_uri:
            return self.tracking_uri
        return default_tracking_uri(self.root)

    @property
    def spool(self) -> Path:
        """Where runs wait for MLflow: ``spool_dir``, else ``<project root>/.cfgtrack/spool``."""
        return self.spool_dir or self.root / ".cfgtrack" / "spool"

    @property
    def artifact_root(self) -> Path:
        """Where artifacts of experiments cfgtrack creates in the embedded store go."""
        return self.root / "mlartifacts"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfgtrack"


def default_tracking_uri(root: Path) -> str:
    """The embedded default store: ``sqlite:///<project root>/mlflow.db``."""
    return f"sqlite:///{(root / 'mlflow.db').as_posix()}"


def _find_pyproject(start: Path, stop: Path) -> Path | None:
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if folder == stop:
            break
    return None


_STRING_KEYS = {
    "config_dir",
    "config_name",
    "env_group",
    "stale_after",
    "data_max_age",
    "tracking_uri",
    "experiment",
    "production_env",
    "staging_env",
    "version_base",
}
_BOOL_KEYS = {"mlflow", "strict", "follow_renames", "skip_finished"}
_LIST_KEYS = {
    "env_allowlist",
    "redact_keys",
    "machine_env",
    "schema_modules",
    "compare_envs",
    "audit_models",
    "skip_finished_match",
}
_PATH_KEYS = {"data_cache", "spool_dir"}
_NUMBER_KEYS = {"tracking_timeout", "heartbeat_interval"}  # seconds
_KNOWN = _STRING_KEYS | _BOOL_KEYS | _LIST_KEYS | _PATH_KEYS | _NUMBER_KEYS


def _read_table(pyproject: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(pyproject.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CfgtrackError(f"{pyproject}: not UTF-8 text ({exc.reason}); fix the file") from None
    except tomllib.TOMLDecodeError as exc:
        raise CfgtrackError(f"{pyproject}: not valid TOML ({exc}); fix the file") from None
    except RecursionError:
        raise CfgtrackError(f"{pyproject}: nested too deeply to read; fix the file") from None
    tool = data.get("tool", {})
    table = tool.get("cfgtrack", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise CfgtrackError(f"{pyproject}: [tool.cfgtrack] must be a table")
    return table


def _table(pyproject: Path, problems: list[str] | None) -> dict[str, Any]:
    if problems is None:
        return _read_table(pyproject)
    try:
        return _read_table(pyproject)
    except (CfgtrackError, OSError, RecursionError) as exc:
        problems.append(str(exc))
        return {}


def _check(pyproject: Path | str, key: str, value: Any) -> Any:
    where = f"{pyproject}: [tool.cfgtrack] {key}"
    if key not in _KNOWN:
        known = ", ".join(sorted(_KNOWN))
        close = difflib.get_close_matches(key, sorted(_KNOWN), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise CfgtrackError(f"{where}: unknown setting; {hint}known settings are {known}")
    if key in _STRING_KEYS | _PATH_KEYS and not isinstance(value, str):
        raise CfgtrackError(f"{where}: must be a string, got {value!r}")
    if key in _BOOL_KEYS and not isinstance(value, bool):
        raise CfgtrackError(f"{where}: must be true or false, got {value!r}")
    if key in _LIST_KEYS and not (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        raise CfgtrackError(f"{where}: must be a list of strings, got {value!r}")
    if key in _NUMBER_KEYS:
        value = _seconds(where, value, positive=key == "tracking_timeout")
    if key in _PATH_KEYS or key == "config_dir":
        try:
            Path(value).expanduser().resolve()
        except (RuntimeError, ValueError, OSError) as exc:  # "~nobody/x", a NUL byte
            raise CfgtrackError(f"{where}: not a usable path ({exc}); fix the path") from None
    if key == "version_base" and not re.fullmatch(r"current|\d+\.\d+", value):
        raise CfgtrackError(
            f'{where}: must be a Hydra version base such as "1.1" or "current", got {value!r}'
        )
    if key == "compare_envs" and not all(re.fullmatch(r"[^:]+:[^:]+", item) for item in value):
        raise CfgtrackError(f'{where}: list env pairs as "left:right", got {value!r}')
    if key == "skip_finished_match" and not set(value) <= set(SKIP_MATCH_PARTS):
        raise CfgtrackError(
            f'{where}: list what must match from "data" and "commit", got {value!r}'
        )
    if key in {"stale_after", "data_max_age"}:
        try:
            parse_duration(value)
        except CfgtrackError as exc:
            raise CfgtrackError(f"{where}: {exc}") from None
    return value


MAX_SECONDS = 86400  # a wait or interval beyond a day is a typo, and overflows timers


def _seconds(where: str, value: Any, positive: bool) -> float:
    """A number of seconds: ``>= 0``, or ``> 0`` when ``positive``; text from the environment."""
    seconds = None
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
    if (
        seconds is None
        or not math.isfinite(seconds)
        or not 0 <= seconds <= MAX_SECONDS
        or (positive and not seconds)
    ):
        bound = "greater than 0" if positive else "0 or more"
        raise CfgtrackError(
            f"{where}: must be a number of seconds {bound} and at most {MAX_SECONDS} (a day), "
            f"got {value!r}"
        )
    return seconds


def _from_environment(problems: list[str] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in _KNOWN:
        raw = os.environ.get(f"CFGTRACK_{key.upper()}")
        if raw is None or key == "tracking_uri":
            continue
        if key in _BOOL_KEYS:
            values[key] = _truthy(raw)
            continue
        value: Any = raw
        if key in _LIST_KEYS:
            value = [item.strip() for item in raw.split(",") if item.strip()]
        checked = _checked(f"CFGTRACK_{key.upper()}", key, value, problems)
        if checked is not _INVALID:
            values[key] = checked
    return values


_INVALID: Any = object()


def _checked(where: Path | str, key: str, value: Any, problems: list[str] | None) -> Any:
    """``_check``; with ``problems`` given, a bad setting is noted there and ``_INVALID``."""
    if problems is None:
        return _check(where, key, value)
    try:
        return _check(where, key, value)
    except CfgtrackError as exc:
        problems.append(str(exc))
        return _INVALID


def load_settings(
    start: Path | str | None = None,
    *,
    root: Path | str | None = None,
    problems: list[str] | None = None,
) -> Settings:
    """Settings for the project containing ``start`` (default: the working directory).

    The project root is the git root, else ``root`` when given, else ``start`` itself. The nearest
    pyproject.toml between ``start`` and the root supplies ``[tool.cfgtrack]``; relative paths in
    it are relative to that file's folder. ``CFGTRACK_<KEY>`` environment variables win.

    A bad setting (unknown key, wrong value, unreadable file) raises ``CfgtrackError``, unless
    ``problems`` is given: then each message is appended to it and that setting keeps its
    default, so recording a run never stops on a setting (see ``run_settings``).
    """
    here = Path(start or os.getcwd()).resolve()
    project_root = find_root(here) or (Path(root).resolve() if root else here)
    pyproject = _find_pyproject(here, project_root)
    base = pyproject.parent if pyproject else project_root
    values: dict[str, Any] = {}
    if pyproject:
        for key, value in _table(pyproject, problems).items():
            checked = _checked(pyproject, key, value, problems)
            if checked is not _INVALID:
                values[key] = checked
    values.update(_from_environment(problems))
    settings = Settings(root=project_root, config_dir=base / "conf", source=pyproject)
    converted: dict[str, Any] = {}
    for item in fields(Settings):
        if item.name not in values:
            continue
        value = values[item.name]
        if item.name in {"config_dir", "data_cache", "spool_dir"}:
            value = (base / Path(value).expanduser()).resolve()
        elif item.name in _LIST_KEYS:
            value = tuple(value)
        converted[item.name] = value
    return replace(settings, **converted)


_WARNED: set[str] = set()


def run_settings(start: Path | str | None = None, *, root: Path | str | None = None) -> Settings:
    """Settings for recording a run: a bad setting is one warning (once per process, naming
    the file and the key) and keeps its default; it never switches recording or masking off."""
    problems: list[str] = []
    settings = load_settings(start, root=root, problems=problems)
    for problem in problems:
        if problem not in _WARNED:
            _WARNED.add(problem)
            logging.getLogger("cfgtrack").warning(
                "cfgtrack: warning: %s; the run is recorded with its default", problem
            )
    return settings
