"""``reproduce`` output: the plan (steps, environment differences), the verdict, the document."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgtrack.render.documents import document

if TYPE_CHECKING:
    from cfgtrack.compare.run_items import Item
    from cfgtrack.record.reproduce import Outcome, Plan


def _worktree_hint(plan: Plan) -> str:
    return str(plan.repo.parent / f"{plan.repo.name}-reproduce-{plan.run_id[:8]}")


def plan_lines(plan: Plan, patch_out: Path | None, *, markdown: bool) -> list[str]:
    """The run, the numbered steps and the environment differences, as text or Markdown."""
    from cfgtrack.record.reproduce import shell_steps

    when = (plan.start_time or "-").replace("T", " ")[:19]
    lines = [
        f"{'### ' if markdown else ''}Reproduce run {plan.run_id} "
        f"({plan.experiment or '-'}, {when}, {plan.status or '-'})",
        "",
        f"expected config hash: {plan.config_hash}",
        *_ignored_lines(plan),
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


def _ignored_lines(plan: Plan) -> list[str]:
    if not plan.ignored:
        return []
    count = len(plan.ignored)
    what = "1 value that differs" if count == 1 else f"{count} values that differ"
    return [
        f"ignored: {what} per run or machine, compared as interpolation text: "
        f"{', '.join(plan.ignored)}"
    ]


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


def reproduce_document(
    plan: Plan, patch_out: Path | None, outcome: Outcome | None
) -> dict[str, Any]:
    """The ``cfgtrack.reproduce/1`` JSON document."""
    from cfgtrack.record.reproduce import shell_steps

    patch_file = str(patch_out.resolve()) if patch_out else None
    steps = shell_steps(plan, _worktree_hint(plan), patch_file)
    return document(
        "reproduce",
        {
            **plan.to_dict(),
            "steps": [step.to_dict() for step in steps],
            "result": None if outcome is None else outcome.to_dict(plan),
            "exit_code": 0 if outcome is None or outcome.reproduced(plan) else 1,
        },
    )
