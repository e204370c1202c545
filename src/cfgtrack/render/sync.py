"""``sync`` and ``gc`` output: what was uploaded or ended, per run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cfgtrack.render import emit
from cfgtrack.render.documents import document, dumps
from cfgtrack.render.runs import IDS_WIDTH
from cfgtrack.render.table import print_table

if TYPE_CHECKING:
    from pathlib import Path

    from cfgtrack.record.gc import GcResult
    from cfgtrack.record.sync import SyncResult


def render_sync(result: SyncResult, output: str, spool: Path | str) -> None:
    if output == "json":
        emit(dumps(document("sync", result.to_dict())))
        return
    rows = [
        [line["local_id"][:12], "uploaded", line["run_id"], line["experiment"], line["run_name"]]
        for line in result.uploaded
    ]
    rows += [
        [line["local_id"][:12], "failed", line["error"], line["experiment"], line["run_name"]]
        for line in result.failed
    ]
    rows += [[local_id[:12], "still running", "-", "-", "-"] for local_id in result.running]
    print_table(
        ["local id", "result", "run id / reason", "experiment", "name"],
        rows,
        output=output,
        empty=f"nothing to upload in {spool}",
        piped_width=IDS_WIDTH,
    )
    for problem in result.broken:
        emit(f"cfgtrack: unreadable spool entry: {problem}", err=True)
    if rows and output == "table":
        killed = f", {len(result.killed)} ended KILLED (process gone)" if result.killed else ""
        emit(
            f"{len(result.uploaded)} uploaded, {len(result.failed)} failed, "
            f"{len(result.running)} still running{killed}"
        )


def render_gc(result: GcResult, output: str) -> None:
    if output == "json":
        emit(dumps(document("gc", result.to_dict())))
        return
    verdict = "dead" if result.dry_run else "ended KILLED"
    rows = [
        [
            run.run_id,
            run.experiment,
            run.last_heartbeat,
            f"failed: {run.error}" if run.error else verdict,
            run.run_name or "",
        ]
        for run in result.dead
    ]
    print_table(
        ["run id", "experiment", "last heartbeat", "result", "name"],
        rows,
        output=output,
        empty="no dead runs",
        piped_width=IDS_WIDTH,
    )
    if result.spool_killed and output == "table":
        emit(f"{len(result.spool_killed)} spooled runs {verdict}; upload them with `cfgtrack sync`")
