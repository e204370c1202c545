"""``history``: every value one parameter has had — blame for one key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

from cfgtrack.errors import CfgtrackError

if TYPE_CHECKING:
    from cfgtrack.ages.model import Change, History
    from cfgtrack.progress import ProgressCallback


@dataclass(frozen=True)
class HistoryResult:
    """``key``'s changes in one composition, newest first."""

    key: str
    env: str | None
    history: History
    exit_code: int = 0

    @property
    def changes(self) -> list[Change]:
        return list(reversed(self.history.changes[self.key]))

    @property
    def where(self) -> str:
        return f"env {self.env}" if self.env else "the default composition"


def unknown_key(key: str, known: Sequence[str], where: str) -> CfgtrackError:
    """An error naming the closest keys, so a typo costs one look."""
    close = get_close_matches(key, list(known), n=5, cutoff=0.5)
    hint = (
        f"; did you mean {', '.join(close)}?" if close else "; list keys with cfgtrack stale --all"
    )
    return CfgtrackError(f"no key {key!r} in {where}{hint}")


def history(
    key: str,
    *,
    env: str | None = None,
    since: str | datetime | None = None,
    rev: str = "HEAD",
    overrides: Sequence[str] = (),
    config_dir: Path | None = None,
    config_name: str | None = None,
    env_group: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> HistoryResult:
    """Every value ``key`` has had in ``env``'s composition (default: the default composition)."""
    from cfgtrack.ages.history import load_histories
    from cfgtrack.verbs.project import choose_envs, project_settings, since_date

    settings = project_settings(config_dir, config_name, env_group)
    envs = choose_envs(settings, [env]) if env else [None]
    start = since_date(since, datetime.now(timezone.utc))
    found = load_histories(
        settings, envs, overrides=overrides, rev=rev, since=start, on_progress=on_progress
    )[0]
    result = HistoryResult(key, env, found)
    if key not in found.changes:
        raise unknown_key(key, sorted(found.changes), f"the history of {result.where}")
    return result
