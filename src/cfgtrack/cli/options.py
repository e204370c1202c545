"""Options several verbs share, defined once so their names and help never drift apart."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from cfgtrack.progress import ProgressCallback

WALK_PROGRESS_FROM = 50  # commits: shorter walks end before a bar would help


class OutputFormat(str, Enum):
    """Output formats shared by every reporting verb."""

    table = "table"
    json = "json"
    md = "md"


class RowsFormat(str, Enum):
    """Formats of verbs that list rows, which print CSV too (for spreadsheets and scripts)."""

    table = "table"
    json = "json"
    md = "md"
    csv = "csv"


FORMAT = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or md.")
ROWS_FORMAT = typer.Option(RowsFormat.table, "--format", "-f", help="table, json, md or csv.")
TRACKING_URI = typer.Option(None, "--tracking-uri", help="Default: project settings.")
EXPERIMENT = typer.Option(None, "--experiment", "-e", help="Only this experiment.")
CONFIG_DIR = typer.Option(None, "--config-dir", help="Config folder (default: config_dir setting).")
CONFIG_NAME = typer.Option(None, "--config-name", help="Primary config (default: config_name).")
ENV_GROUP = typer.Option(
    None, "--env-group", help="Config group that selects the env (default: env_group)."
)
OVERRIDES = typer.Option(
    None, "--override", "-o", help="Hydra override applied at every commit (repeatable)."
)
REV = typer.Option("HEAD", "--rev", help="Walk the first-parent history of this revision.")
OLDER_THAN = typer.Option(None, "--older-than", help="Threshold (default: stale_after).")
FAIL_ON_STALE = typer.Option(
    False, "--fail-on-stale", help="Exit 1 when an unreviewed stale parameter exists."
)
ALLOW_SHALLOW = typer.Option(
    False, "--allow-shallow", help="Let --fail-on-stale judge lower-bound ages."
)
SINCE = typer.Option(
    None,
    "--since",
    help="Read only commits after this date or duration (ages become lower bounds).",
)
SPOOL = typer.Option(
    None,
    "--spool",
    file_okay=False,
    help="Default: [tool.cfgtrack] spool_dir, else .cfgtrack/spool.",
)
DEAD_AFTER = typer.Option(
    None,
    "--dead-after",
    help="A RUNNING run silent this long is dead, e.g. 10m (default: 10 heartbeats, >= 5m).",
)


@contextmanager
def walk_progress() -> Iterator[ProgressCallback]:
    """The history walk's progress, shown on a terminal for long walks."""
    from cfgtrack.render.progress import progress_bar

    with progress_bar("Composing the config at each commit", min_total=WALK_PROGRESS_FROM) as shown:
        yield shown


def finish(exit_code: int) -> None:
    """End the command with the verb's exit code (0 nothing to report, 1 findings)."""
    raise typer.Exit(exit_code)


@dataclass(frozen=True)
class WalkOptions:
    """Which history a verb reads: the revision, the window, the overrides, the config."""

    since: str | None
    rev: str
    overrides: tuple[str, ...]
    config_dir: Path | None
    config_name: str | None
    env_group: str | None

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "rev": self.rev,
            "overrides": self.overrides,
            "config_dir": self.config_dir,
            "config_name": self.config_name,
            "env_group": self.env_group,
        }


_WALK_PARAMETERS = (
    ("since", str, SINCE),
    ("rev", str, REV),
    ("overrides", list[str], OVERRIDES),
    ("config_dir", Path, CONFIG_DIR),
    ("config_name", str, CONFIG_NAME),
    ("env_group", str, ENV_GROUP),
)


def walk_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a verb the shared history options (``--since``, ``--rev``, ``-o``, ``--config-dir``,
    ``--config-name``, ``--env-group``), passed to it as one ``walk: WalkOptions`` argument."""
    signature = inspect.signature(command)
    own = [p for p in signature.parameters.values() if p.name != "walk"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in _WALK_PARAMETERS
    ]
    hints = {k: v for k, v in typing.get_type_hints(command).items() if k != "walk"}

    @functools.wraps(command)
    def verb(**given: Any) -> None:
        walk = WalkOptions(
            since=given.pop("since"),
            rev=given.pop("rev"),
            overrides=tuple(given.pop("overrides") or ()),
            config_dir=given.pop("config_dir"),
            config_name=given.pop("config_name"),
            env_group=given.pop("env_group"),
        )
        command(walk=walk, **given)

    verb.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    verb.__annotations__ = {**hints, **{name: kind for name, kind, _ in _WALK_PARAMETERS}}
    del verb.__wrapped__  # typer must read the signature above, not the wrapped function's
    return verb
