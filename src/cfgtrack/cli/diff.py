"""``cfgtrack diff A B``: compare two configs; exit 1 on undocumented differences."""

from __future__ import annotations

from pathlib import Path

import typer

from cfgtrack.cli.options import ENV_GROUP, FORMAT, OutputFormat, finish


def diff(
    left: str = typer.Argument(
        ...,
        help="Env name, file, run:<id>, models:/NAME@ALIAS or /VERSION; env or file @<git rev>.",
    ),
    right: str = typer.Argument(..., help="The other side, same grammar."),
    output: OutputFormat = FORMAT,
    only_undocumented: bool = typer.Option(
        False, "--only-undocumented", help="Show only differences no entry documents."
    ),
    show_all: bool = typer.Option(False, "--all", help="Show equal keys too."),
    rtol: float = typer.Option(
        0.0, "--rtol", help="Relative tolerance for floats (default: exact)."
    ),
    ignore_order: bool = typer.Option(
        False, "--ignore-order", help="Compare lists as unordered collections."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", "-x", help="Leave out keys matching this glob (repeatable)."
    ),
    overrides: list[str] = typer.Option(
        [], "--override", "-o", help="Hydra override key=value for composed sides (repeatable)."
    ),
    config_dir: Path = typer.Option(None, "--config-dir", help="Default: [tool.cfgtrack]."),
    config_name: str = typer.Option(None, "--config-name", help="Default: [tool.cfgtrack]."),
    env_group: str = ENV_GROUP,
    documented: Path = typer.Option(
        None,
        "--documented",
        help="Documented-differences file (default: <config dir>/cfgtrack-diff.yaml).",
    ),
    ages: bool = typer.Option(
        False,
        "--ages",
        help="Read the git history for each value's age (else ages show when already cached).",
    ),
    what: str = typer.Option(
        None,
        "--what",
        help="For two runs (run:<id>, models:/...), which aspects: config,env,git,data.",
    ),
) -> None:
    """Compare two composed configs key by key; exit 0 when every difference is documented,
    1 when some are not, 2 on bad input."""
    from cfgtrack.render.diff import render_diff
    from cfgtrack.verbs.diff import diff as compare

    result = compare(
        left,
        right,
        overrides=overrides,
        rtol=rtol,
        ignore_order=ignore_order,
        exclude=exclude,
        documented=documented,
        include_equal=show_all,
        config_dir=config_dir,
        config_name=config_name,
        ages="walk" if ages else "cached",
        what=what,
        env_group=env_group,
    )
    render_diff(result, output.value, only_undocumented=only_undocumented, show_equal=show_all)
    finish(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command(name="diff")(diff)
