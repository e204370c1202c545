"""``reproduce``: how to run a recorded run again, and doing it in a temporary git worktree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from cfgtrack.errors import CfgtrackError
from cfgtrack.git.repo import find_root
from cfgtrack.settings import load_settings

if TYPE_CHECKING:
    from cfgtrack.record.reproduce import Outcome, Plan


@dataclass(frozen=True)
class ReproduceResult:
    """The plan (commit, patch, command, environment differences) and, with ``execute``, what
    running it gave."""

    plan: Plan
    patch_out: Path | None
    outcome: Outcome | None

    @property
    def exit_code(self) -> int:
        """0 planned or reproduced, 1 run again but the config hash differs."""
        return 0 if self.outcome is None or self.outcome.reproduced(self.plan) else 1


def reproduce(
    run_id: str,
    *,
    execute: bool = False,
    keep: bool = False,
    patch_out: Path | None = None,
    tracking_uri: str | None = None,
    cwd: Path | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    output: IO[str] | None = None,
) -> ReproduceResult:
    """Plan how to run ``run_id`` again from the clone at ``cwd`` (default: here); a model URI
    (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``) stands for the run that trained it.

    ``patch_out`` receives the recorded patch. With ``execute`` the run is repeated in a
    temporary worktree (kept with ``keep``); ``on_plan`` sees the plan before that starts and
    ``output`` receives the command's output (default: inherited).
    """
    from cfgtrack.record.reproduce import execute as run_again
    from cfgtrack.record.reproduce import plan as make_plan

    here = Path.cwd() if cwd is None else Path(cwd)
    repo = find_root(here)
    if repo is None:
        raise CfgtrackError(
            f"{here} is not inside a git repository; run cfgtrack reproduce in a clone of "
            "the project the run came from"
        )
    from cfgtrack.tracking.models import run_id_of

    uri = tracking_uri or load_settings().resolved_tracking_uri()
    plan = make_plan(run_id_of(uri, run_id), uri, repo)
    if patch_out is not None:
        _write_patch(Path(patch_out), plan.patch)
    if on_plan is not None:
        on_plan(plan)
    outcome = run_again(plan, keep=keep, output=output) if execute else None
    return ReproduceResult(plan, patch_out, outcome)


def _write_patch(path: Path, patch: str) -> None:
    from cfgtrack.record.run_record import write_atomic

    if path.is_dir():
        raise CfgtrackError(f"--patch-out: {path} is a folder; name a file to write the patch to")
    try:
        write_atomic(path, patch)
    except OSError as exc:
        raise CfgtrackError(f"--patch-out: cannot write {path} ({exc.strerror or exc})") from None
