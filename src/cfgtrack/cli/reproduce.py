"""``cfgtrack reproduce RUN_ID [--exec]``: how to run a recorded run again, or doing it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cfgtrack.cli.app import OutputFormat
from cfgtrack.errors import CfgtrackError

if TYPE_CHECKING:
    from cfgtrack.compare.run_diff import Item
    from cfgtrack.record.reproduce import Outcome, Plan

SCHEMA = "cfgtrack.reproduce/1"


def reproduce(
    run_id: str = typer.Argument(..., help="The MLflow run id to reproduce."),
    execute: bool = typer.Option(
        False, "--exec", help="Do it: check out, patch and run in a temporary git worktree."
    ),
    keep: bool = typer.Option(False, "--keep", help="With --exec: keep the worktree afterwards."),
    patch_out: Path = typer.Option(
        None, "--patch-out", help="Write the run's recorded patch to this file."
    ),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="Default: project settings."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """Print how to run a recorded run again (commit, patch, command) and how this environment
    differs from its own; with --exec, run it and check the config hash (exit 0 reproduced,
    1 not, 2 bad input)."""
    from cfgtrack.record.reproduce import execute as run_again
    from cfgtrack.record.reproduce import plan as make_plan
    from cfgtrack.settings import find_git_root, load_settings

    settings = load_settings()
    repo = find_git_root(Path.cwd())
    if repo is None:
        raise CfgtrackError(
            f"{Path.cwd()} is not inside a git repository; run cfgtrack reproduce in a clone of "
            "the project the run came from"
        )
    plan = make_plan(run_id, tracking_uri or settings.resolved_tracking_uri(), repo)
    if patch_out is not None:
        _write_patch(patch_out, plan.patch)
    lines = plan_lines(plan, patch_out, markdown=output is OutputFormat.md)
    if output is not OutputFormat.json:
        typer.echo("\n".join(lines))
    if not execute:
        if output is OutputFormat.json:
            typer.echo(json.dumps(document(plan, patch_out, None), indent=2))
        return
    if output is not OutputFormat.json:
        typer.echo(f"\nRunning run {run_id} again in a temporary git worktree ...", err=True)
    outcome = run_again(plan, keep=keep, output=sys.stderr if output is OutputFormat.json else None)
    if output is OutputFormat.json:
        typer.echo(json.dumps(document(plan, patch_out, outcome), indent=2))
    else:
        typer.echo("\n" + "\n".join(verdict_lines(plan, outcome)))
    raise typer.Exit(0 if outcome.reproduced(plan) else 1)


def _worktree_hint(plan: Plan) -> str:
    return str(plan.repo.parent / f"{plan.repo.name}-reproduce-{plan.run_id[:8]}")


def _write_patch(path: Path, patch: str) -> None:
    if path.is_dir():
        raise CfgtrackError(f"--patch-out: {path} is a folder; name a file to write the patch to")
    from cfgtrack.record.run_record import write_atomic

    try:
        write_atomic(path, patch)
    except OSError as exc:
        raise CfgtrackError(f"--patch-out: cannot write {path} ({exc.strerror or exc})") from None


def plan_lines(plan: Plan, patch_out: Path | None, *, markdown: bool) -> list[str]:
    """The run, the numbered steps and the environment differences, as text or Markdown."""
    from cfgtrack.record.reproduce import shell_steps

    when = (plan.start_time or "-").replace("T", " ")[:19]
    lines = [
        f"{'### ' if markdown else ''}Reproduce run {plan.run_id} "
        f"({plan.experiment or '-'}, {when}, {plan.status or '-'})",
        "",
        f"expected config hash: {plan.config_hash}",
        "",
    ]
    patch_file = str(patch_out.resolve()) if patch_out else None
    for number, step in enumerate(shell_steps(plan, _worktree_hint(plan), patch_file), 1):
        lines.append(f"{number}. {step.what}")
        if markdown:
            lines += ["", "   ```bash", *(f"   {command}" for command in step.commands), "   ```"]
        else:
            lines += [f"     {command}" for command in step.commands]
        lines += [f"   {note}" for note in step.notes]
    lines += ["", f"{'#### ' if markdown else ''}This environment against the recorded one", ""]
    lines += environment_lines(plan, markdown=markdown)
    return lines


def environment_lines(plan: Plan, *, markdown: bool) -> list[str]:
    """Python, platform, GPU, then each package added, removed or at another version."""
    diff = plan.environment
    rows = [_environment_row(fact) for fact in diff.facts]
    counts = {
        kind: sum(1 for p in diff.packages if p.kind == kind)
        for kind in ("changed", "added", "removed")
    }
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    rows.append(("packages", f"{summary}; {diff.equal_packages} the same", ""))
    rows += [(f"  {p.name}", _versions(p), p.kind) for p in diff.packages]
    if markdown:
        from cfgtrack.render.md import cell, table

        return table(["", "recorded -> now", ""], [[cell(c) for c in row] for row in rows]).split(
            "\n"
        )
    width = max(len(row[0]) for row in rows)
    return [
        f"  {name.ljust(width)}  {text}{f'  ({kind})' if kind else ''}" for name, text, kind in rows
    ]


def _versions(item: Item) -> str:
    return f"{item.left or '(not installed)'} -> {item.right or '(not installed)'}"


def _environment_row(fact: Item) -> tuple[str, str, str]:
    if not fact.differs:
        return fact.name, f"{fact.right} (as recorded)", ""
    return fact.name, f"{fact.left} -> {fact.right}", "differs"


def verdict_lines(plan: Plan, outcome: Outcome) -> list[str]:
    """The verdict, then what else differs in the new run (patch, data)."""
    if outcome.new_run_id is None:
        return [
            f"NOT reproduced: the command exited with {outcome.returncode} and no new run of "
            f"commit {plan.commit[:10]} was found in {plan.tracking_uri}"
        ]
    if outcome.reproduced(plan):
        lines = [
            f"reproduced: run {outcome.new_run_id} has config hash {outcome.new_hash}, as run "
            f"{plan.run_id} had"
        ]
    else:
        lines = [
            f"NOT reproduced: run {outcome.new_run_id} has config hash {outcome.new_hash}, run "
            f"{plan.run_id} had {plan.config_hash}; see cfgtrack diff run:{plan.run_id} "
            f"run:{outcome.new_run_id}"
        ]
    lines.append(f"linked: tag cfgtrack.reproduces={plan.run_id} on run {outcome.new_run_id}")
    if outcome.returncode != 0:
        lines.append(f"the command exited with {outcome.returncode}")
    if outcome.same_patch is False:
        lines.append("note: the new run's uncommitted changes differ from the recorded patch")
    lines += [f"note: dataset {d.name} differs: {d.left} -> {d.right}" for d in outcome.data]
    if outcome.kept_worktree:
        lines.append(f"worktree kept at {outcome.kept_worktree}")
    return lines


def document(plan: Plan, patch_out: Path | None, outcome: Outcome | None) -> dict[str, Any]:
    """The ``cfgtrack.reproduce/1`` JSON document."""
    from cfgtrack.record.reproduce import shell_steps

    patch_file = str(patch_out.resolve()) if patch_out else None
    steps = shell_steps(plan, _worktree_hint(plan), patch_file)
    return {
        "schema": SCHEMA,
        **plan.to_dict(),
        "steps": [step.to_dict() for step in steps],
        "result": None if outcome is None else outcome.to_dict(plan),
        "exit_code": 0 if outcome is None or outcome.reproduced(plan) else 1,
    }


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)
