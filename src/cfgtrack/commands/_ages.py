"""What ``stale``, ``history``, ``review`` and ``report`` share: which project, envs and history."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import typer

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, load_settings

CONFIG_DIR = typer.Option(None, "--config-dir", help="Config folder (default: config_dir setting).")
CONFIG_NAME = typer.Option(None, "--config-name", help="Primary config (default: config_name).")
OVERRIDES = typer.Option(
    None, "--override", "-o", help="Hydra override applied at every commit (repeatable)."
)
REV = typer.Option("HEAD", "--rev", help="Walk the first-parent history of this revision.")
SINCE = typer.Option(
    None,
    "--since",
    help="Read only commits after this date or duration (ages become lower bounds).",
)


def project_settings(config_dir: Path | None, config_name: str | None) -> Settings:
    """The project's settings, with the command-line config folder and name applied.

    Checks first that this is a git repository: every age comes from its history.
    """
    from cfgtrack.gitobjects import repo_toplevel

    settings = load_settings()
    repo_toplevel(settings.root)
    if config_dir is not None:
        settings = replace(settings, config_dir=config_dir.resolve())
    if config_name is not None:
        settings = replace(settings, config_name=config_name)
    if not settings.config_dir.is_dir():
        raise CfgtrackError(
            f"config folder {settings.config_dir} does not exist; set --config-dir or config_dir"
        )
    return settings


def choose_envs(settings: Settings, requested: list[str] | None) -> list[str | None]:
    """The envs asked for (checked against the env group), else every option of the group."""
    from cfgtrack.history import env_options

    options = env_options(settings)
    if not requested:
        return list(options) or [None]
    unknown = [env for env in requested if env not in options]
    if unknown:
        group = settings.config_dir / settings.env_group
        known = ", ".join(options) or "none"
        raise CfgtrackError(
            f"unknown env {', '.join(unknown)!s}: {group} has {known}; pick one of those"
        )
    return list(requested)


def since_date(text: str | None, as_of: datetime) -> datetime | None:
    from cfgtrack.stale import parse_since

    return None if text is None else parse_since(text, as_of)


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A rich table on stdout; piped output gets a wide page instead of wrapped cells."""
    import sys

    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, title=title, title_justify="left", box=None, pad_edge=False)
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 240).print(table)
