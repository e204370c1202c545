"""Which era of Hydra's rules a project's configs compose with (its ``version_base``).

Hydra composes by the rules its caller asks for: ``@hydra.main(version_base="1.1")`` keeps Hydra
1.0/1.1 behaviour (``# @package _group_`` headers mean "the group", a primary config may name a
same-named schema), ``version_base=None`` the current rules, and a ``@hydra.main`` without
``version_base`` the 1.1 rules. cfgtrack composes as the app does: the ``version_base`` setting
when given, else what the app's entry points pass when cfgtrack can read it, else current.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from cfgtrack.git.repo import run_git
from cfgtrack.settings import Settings

CURRENT = "current"
_LEGACY_DEFAULT = "1.1"  # what Hydra >= 1.2 applies when an app passes no version_base
_MAIN = re.compile(r"@hydra\.main\s*\(([^)]*)\)", re.DOTALL)
_VERSION_BASE = re.compile(r"version_base\s*=\s*(None|[\"']([^\"']*)[\"'])")
_MAX_FILE_BYTES = 1_000_000


def version_base_for(settings: Settings) -> str | None:
    """The version base to compose with (None: Hydra's current rules)."""
    chosen = settings.version_base or app_version_base(settings.root)
    return None if chosen in (None, CURRENT) else chosen


def app_version_base(root: Path) -> str | None:
    """What the project's ``@hydra.main`` entry points ask for; None when none is found or they
    disagree (then the current rules apply)."""
    found: Counter[str] = Counter()
    for path in _tracked_python(root):
        try:
            if path.stat().st_size > _MAX_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for call in _MAIN.finditer(text):
            match = _VERSION_BASE.search(call.group(1))
            if match is None:
                found[_LEGACY_DEFAULT] += 1
            else:
                found[CURRENT if match.group(1) == "None" else match.group(2)] += 1
    return next(iter(found)) if len(found) == 1 else None


def _tracked_python(root: Path) -> list[Path]:
    result = run_git(root, "ls-files", "-z", "--", "*.py")
    if result.returncode != 0:
        return []
    return [root / name for name in result.stdout.split("\0") if name]
