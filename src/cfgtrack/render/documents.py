"""Every JSON document cfgtrack prints, each named ``cfgtrack.<verb>/<version>``.

Scripts and CI read these; a field is only ever added within one version.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cfgtrack.compare.diff import DiffResult
    from cfgtrack.compare.sources import Config

SCHEMAS = {
    verb: f"cfgtrack.{verb}/1"
    for verb in ("runs", "diff", "stale", "history", "review", "report", "sync", "gc", "reproduce")
}
DIFF_SCHEMA = SCHEMAS["diff"]


def document(verb: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the verb's document: its schema name first."""
    return {"schema": SCHEMAS[verb], **body}


def dumps(document: Any) -> str:
    """Indented JSON; values JSON cannot hold (dates, bytes, paths) become their text."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


def config_side(config: Config) -> dict[str, Any]:
    return {
        "spec": config.spec.text,
        "kind": config.spec.kind,
        "name": config.spec.name,
        "rev": config.spec.rev,
        "commit": config.commit,
        "env": config.env,
        "source": config.source,
        "choices": config.choices,
    }


def diff_document(
    result: DiffResult, *, only_undocumented: bool = False, show_equal: bool = False
) -> dict[str, Any]:
    """The ``cfgtrack.diff/1`` document (schema in README.md)."""
    changes = result.undocumented if only_undocumented else result.changes
    options = result.options
    return {
        "schema": DIFF_SCHEMA,
        "left": config_side(result.left),
        "right": config_side(result.right),
        "options": {
            "rtol": options.rtol,
            "ignore_order": options.ignore_order,
            "exclude": list(options.exclude),
            "overrides": list(options.overrides),
            "documented_file": result.documented_file,
        },
        "summary": {
            "differences": len(result.changes),
            "undocumented": len(result.undocumented),
            "documented": len(result.documented),
            "equal": result.equal_count,
            "unused_documentation": len(result.unused),
        },
        "differences": [change.to_dict() for change in changes],
        "equal": [change.to_dict() for change in result.equal] if show_equal else None,
        "unused_documentation": [entry.to_dict() for entry in result.unused],
        "exit_code": result.exit_code,
    }
