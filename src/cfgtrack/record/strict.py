"""Strict mode: a run starts only from committed code and config, with data no older than its
``max_age``, and a production run only with a config that differs from staging where the
differences are documented.

Strict mode is on when any of these says so: ``@cfgtrack.track(strict=True)``, the callback's
``strict: true``, ``[tool.cfgtrack] strict = true``, ``CFGTRACK_STRICT=1``, or the config key
``cfgtrack.strict: true`` (for example in ``conf/env/prod.yaml``, so every prod run is strict).
A refused run prints one line ``cfgtrack: error: strict mode: ...`` and exits with code 2 before
the task starts and before any tracked run is created.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cfgtrack.compare.documented import DEFAULT_FILE_NAME as DOCUMENTED_FILE_NAME
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.repo import run_git
from cfgtrack.record.capture.config import select_list
from cfgtrack.record.capture.own_files import OwnFiles, exclude_own_files
from cfgtrack.redact.messages import mask_message
from cfgtrack.settings import Settings

CONFIG_KEY = "cfgtrack.strict"
CONFIG_SUFFIXES = (".yaml", ".yml")
SHOWN_NAMES = 5  # names listed in a message before "and N more"


class StrictModeRefusal(CfgtrackError):
    """The run does not meet strict mode; the message says every reason and what to do."""


@dataclass(frozen=True)
class JobFacts:
    """What strict mode looks at, read from the job's Hydra config."""

    config_dirs: tuple[Path, ...]
    primary_dir: Path | None
    config_name: str | None
    env: str | None
    overrides: tuple[str, ...]


def job_facts(config: DictConfig, settings: Settings) -> JobFacts:
    def select(key: str, default: Any = None) -> Any:
        return OmegaConf.select(config, key, default=default)

    dirs, primary = [], None
    for source in select("hydra.runtime.config_sources", []) or []:
        if source.get("schema") == "file" and source.get("path"):
            dirs.append(Path(source["path"]))
            if source.get("provider") == "main":
                primary = Path(source["path"])
    choices = select("hydra.runtime.choices", {}) or {}
    return JobFacts(
        config_dirs=tuple(dirs),
        primary_dir=primary,
        config_name=select("hydra.job.config_name"),
        env=choices.get(settings.env_group),
        overrides=tuple(select_list(config, "hydra.overrides.task")),
    )


def is_requested(config: DictConfig, requested: bool | None, settings: Settings | None) -> bool:
    """True when the decorator or callback, the settings or the config key ask for strict mode."""
    try:
        key = OmegaConf.select(config, CONFIG_KEY, default=None)
    except OmegaConfBaseException:  # ``cfgtrack`` is a list or a value here: it says nothing
        key = None
    from_settings = settings is not None and settings.strict
    return bool(requested) or from_settings or key is True or str(key).lower() in {"1", "true"}


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _untracked_config_files(root: Path, folders: tuple[Path, ...]) -> list[str]:
    """Config files in ``folders`` that git does not track: new ones and ignored ones alike."""
    inside = [folder for folder in folders if folder.resolve().is_relative_to(root)]
    if not inside:
        return []
    result = run_git(root, "ls-files", "--others", "-z", "--", *(str(f.resolve()) for f in inside))
    result.check_returncode()
    return sorted(name for name in result.stdout.split("\0") if name.endswith(CONFIG_SUFFIXES))


def git_problems(settings: Settings, facts: JobFacts, own: OwnFiles | None = None) -> list[str]:
    """Uncommitted changes, untracked config files, config folders outside the repository;
    ``own`` (cfgtrack's and Hydra's files) is never an uncommitted change."""
    from cfgtrack.record.capture.git import capture_git

    state = capture_git(settings.root, own=own)
    if not state.get("repository"):
        reason = state.get("reason") or f"{settings.root} is not inside a git repository"
        return [f"{reason}; strict runs need committed code and config"]
    root = Path(state["root"]).resolve()
    problems = []
    outside = [str(d) for d in facts.config_dirs if not d.resolve().is_relative_to(root)]
    if outside:
        problems.append(f"config folder {_listed(outside)} is outside the git repository {root}")
    untracked_configs = _untracked_config_files(root, facts.config_dirs)
    if untracked_configs:
        problems.append(
            f"config files not committed to git: {_listed(untracked_configs)} (commit them, "
            "or move them out of the config folder)"
        )
    changed = sorted({*state["modified"], *state["untracked"]} - set(untracked_configs))
    if changed:
        problems.append(
            f"the git tree has uncommitted changes in {_listed(changed)} (commit or stash them)"
        )
    return problems


def _without_env_choice(overrides: tuple[str, ...], env_group: str) -> list[str]:
    def key(override: str) -> str:
        return override.split("=", 1)[0].lstrip("+~").split("@", 1)[0]

    return [item for item in overrides if key(item) != env_group]


def env_problems(settings: Settings, facts: JobFacts) -> list[str]:
    """For a production run: the keys where its config differs from staging undocumented.

    The run's side is the config folder composed with the run's own overrides; staging is the
    same folder composed with the staging env and no overrides, so a command-line override on a
    production run is a difference from staging like any other.
    """
    if facts.env is None or facts.env != settings.production_env:
        return []
    if facts.primary_dir is None:
        return [
            f"env {facts.env} is the production env, but its config does not come from a folder, "
            f"so it cannot be compared with {settings.staging_env}"
        ]
    from cfgtrack.compare.diff import DiffOptions, diff_sources
    from cfgtrack.compare.sources import load_config

    where = {"config_dir": facts.primary_dir, "config_name": facts.config_name}
    staging = load_config(settings.staging_env, settings=settings, **where)
    production = load_config(
        facts.env,
        overrides=_without_env_choice(facts.overrides, settings.env_group),
        settings=settings,
        **where,
    )
    options = DiffOptions(exclude=(CONFIG_KEY,))
    result = diff_sources(staging, production, options, settings=settings, **where)
    undocumented = [change.key for change in result.undocumented]
    if not undocumented:
        return []
    documented = Path(result.documented_file or facts.primary_dir / DOCUMENTED_FILE_NAME)
    if documented.resolve().is_relative_to(settings.root):
        documented = documented.resolve().relative_to(settings.root)
    return [
        f"env {facts.env} differs from {settings.staging_env} in {len(undocumented)} "
        f"undocumented key{'s' if len(undocumented) != 1 else ''}: {_listed(undocumented)} "
        f"(document them in {documented} under between: [{settings.staging_env}, {facts.env}], "
        "or drop the difference)"
    ]


def data_problems(config: DictConfig, settings: Settings, data: Any = ()) -> list[str]:
    """The declared datasets (``data`` from the decorator, ``cfgtrack.data`` in the config)
    older than their ``max_age``, judged by file times before the task starts."""
    from cfgtrack.record.capture.freshness import too_old_now
    from cfgtrack.record.run_facts import TrackOptions, declared_data

    section = OmegaConf.select(config, "cfgtrack", default=None)
    resolved = {}
    if isinstance(section, DictConfig):
        resolved = {"cfgtrack": OmegaConf.to_container(section, resolve=True)}
    declared = declared_data(TrackOptions(data=data), resolved)
    base = Path(OmegaConf.select(config, "hydra.runtime.cwd", default=None) or Path.cwd())
    return [
        f"{problem} (refresh the data, or raise its max_age)"
        for problem in too_old_now(declared, base, settings.data_max_age)
    ]


def check(config: DictConfig, settings: Settings, *, job: bool = True, data: Any = ()) -> None:
    """Raise ``StrictModeRefusal`` naming every reason the run may not start.

    ``job=False`` (a sweep about to start) checks git only; each job then checks its env and
    the age of its data.
    """
    facts = job_facts(config, settings)
    role = "job" if job else "sweep"
    problems = git_problems(settings, facts, exclude_own_files(config, settings, role))
    if job:
        problems += env_problems(settings, facts)
        problems += data_problems(config, settings, data)
    if problems:
        raise StrictModeRefusal("; ".join(problems))


def enforce(
    config: DictConfig, requested: bool | None = None, *, job: bool = True, data: Any = ()
) -> None:
    """Stop the process (exit 2, one line on stderr) when strict mode is on and not met.

    A check that cannot be made refuses too: strict mode promises the checks happened.
    """
    from cfgtrack.record.run_facts import project_settings

    try:
        settings = project_settings(config)
    except CfgtrackError as exc:  # unreadable settings: refuse only when strict is asked for
        if is_requested(config, requested, None):
            _refuse(str(exc))
        return
    if not is_requested(config, requested, settings):
        return
    try:
        check(config, settings, job=job, data=data)
    except CfgtrackError as exc:
        _refuse(str(exc))
    except Exception as exc:
        # unlike a CfgtrackError's, this message is not masked yet
        _refuse(mask_message(f"the checks could not run ({type(exc).__name__}: {exc})"))


def _refuse(reason: str) -> None:
    print(f"cfgtrack: error: strict mode: the run does not start: {reason}", file=sys.stderr)
    raise SystemExit(2)
