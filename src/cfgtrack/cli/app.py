"""The ``cfgtrack`` command: a thin typer shell over the library.

Each verb lives in ``cfgtrack.commands.<verb>`` and registers itself here; heavy libraries
(MLflow, Hydra, deepdiff) are imported inside the verbs, so ``cfgtrack --help`` stays instant.
Exit codes (DESIGN.md): 0 nothing to report, 1 findings, 2 usage or input error.
"""

from __future__ import annotations

import sys
from enum import Enum
from importlib import import_module

import typer

from cfgtrack.errors import CfgtrackError
from cfgtrack.redact.messages import mask_message

COMMAND_MODULES = ("runs", "diff", "stale", "history", "review", "report", "sync", "reproduce")

app = typer.Typer(
    name="cfgtrack",
    help="Record every Hydra run in MLflow, compare configs, and age every parameter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(str, Enum):
    """Output formats shared by every reporting verb."""

    table = "table"
    json = "json"
    md = "md"


def fail(message: str) -> None:
    """Print one error line to stderr and exit with code 2."""
    typer.echo(f"cfgtrack: error: {mask_message(message)}", err=True)
    raise typer.Exit(2)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        import_module(f"cfgtrack.cli.{name}").register(app)


def main() -> None:
    """Console-script entry point: run the app, turning input errors into one line and exit 2."""
    _register_commands()
    try:
        code = app(standalone_mode=False)
    except CfgtrackError as exc:
        typer.echo(f"cfgtrack: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("cfgtrack: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if not _is_click_error(exc):
            raise
        typer.echo(f"cfgtrack: error: {_click_message(exc)}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _is_click_error(exc: Exception) -> bool:
    """Click's usage and parameter errors (typer ships its own copy of click, so the classes
    are recognised by their interface, not imported)."""
    return callable(getattr(exc, "format_message", None)) and isinstance(
        getattr(exc, "exit_code", None), int
    )


def _click_message(exc: Exception) -> str:
    message = exc.format_message()
    context = getattr(exc, "ctx", None)
    if context is not None:
        message += f" (see '{context.command_path} --help')"
    return message
