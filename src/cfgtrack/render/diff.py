"""``diff`` output in the asked format, for a config comparison or a run-against-run one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cfgtrack.render import emit

if TYPE_CHECKING:
    from cfgtrack.compare.diff import DiffResult
    from cfgtrack.compare.run_diff import RunDiff


def render_diff(
    result: DiffResult | RunDiff, output: str, *, only_undocumented: bool, show_equal: bool
) -> None:
    from cfgtrack.compare.run_diff import RunDiff

    shown = {"only_undocumented": only_undocumented, "show_equal": show_equal}
    if isinstance(result, RunDiff):
        from cfgtrack.render import run_diff

        if output == "json":
            from cfgtrack.render.documents import dumps

            emit(dumps(run_diff.run_diff_document(result, **shown)))
        elif output == "md":
            emit(run_diff.run_diff_markdown(result, **shown), end="")
        else:
            run_diff.print_run_diff(result, **shown)
        return
    if output == "json":
        from cfgtrack.render.documents import diff_document, dumps

        emit(dumps(diff_document(result, **shown)))
    elif output == "md":
        from cfgtrack.render.md import diff_markdown

        emit(diff_markdown(result, **shown), end="")
    else:
        from cfgtrack.render.table import print_diff

        print_diff(result, **shown)
