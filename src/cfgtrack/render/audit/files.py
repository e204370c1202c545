"""Write the audit report's three files, all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

from cfgtrack.ages.audit import Audit
from cfgtrack.errors import CfgtrackError
from cfgtrack.render.audit.document import render_json
from cfgtrack.render.audit.html import render_html
from cfgtrack.render.audit.markdown import render_markdown


def report_paths(out: Path, audit: Audit) -> dict[str, Path]:
    base = f"cfgtrack-audit-{audit.quarter.label}"
    return {suffix: out / f"{base}.{suffix}" for suffix in ("md", "html", "json")}


def write_report(audit: Audit, out: Path) -> list[Path]:
    """Render every format first, then write each file atomically (no half-written report)."""
    contents = {
        "md": render_markdown(audit),
        "html": render_html(audit),
        "json": render_json(audit),
    }
    paths = report_paths(out, audit)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for suffix, content in contents.items():
            partial = paths[suffix].with_name(paths[suffix].name + ".partial")
            partial.write_text(content, encoding="utf-8")
            os.replace(partial, paths[suffix])
    except OSError as exc:
        raise CfgtrackError(
            f"cannot write the report to {out}: {exc.strerror}; pick --out"
        ) from None
    return list(paths.values())
