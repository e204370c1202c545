"""Reviews: a checked-in acknowledgement that an old parameter value is still right.

``conf/cfgtrack-reviews.yaml`` (in the config folder) is a YAML list, one entry per review::

    - key: model.C
      env: prod
      value: 0.5
      reviewer: Ada Tester <ada@example.com>
      date: '2026-11-28T10:15:00+00:00'
      reason: re-validated on the Q4 holdout

A review is of a value: it stops covering the parameter once the value changes, and it expires
once the staleness threshold has passed since the review. New reviews are appended as text, so
comments and entries people wrote by hand stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from cfgtrack.config.yaml_files import parse_yaml
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings

FILE_NAME = "cfgtrack-reviews.yaml"
HEADER = (
    "# Reviews of parameters cfgtrack reported as stale (written by `cfgtrack review`).\n"
    "# A review covers one value: it lapses when the value changes and expires after the\n"
    "# staleness threshold (stale_after). Keep this file under version control.\n"
)
_FIELDS = ("key", "env", "value", "reviewer", "date", "reason")


@dataclass(frozen=True)
class Review:
    key: str
    env: str | None
    value: Any
    reviewer: str
    date: datetime
    reason: str

    def to_entry(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "env": self.env,
            "value": self.value,
            "reviewer": self.reviewer,
            "date": self.date.isoformat(timespec="seconds"),
            "reason": self.reason,
        }


def reviews_path(settings: Settings) -> Path:
    return settings.config_dir / FILE_NAME


def _when(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise CfgtrackError(
                f"{where}: date {value!r} is not an ISO date; write 2026-11-28"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def load_reviews(path: Path) -> list[Review]:
    """Every review in ``path`` (none when the file does not exist yet)."""
    if not path.is_file():
        return []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CfgtrackError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    entries = parse_yaml(data, str(path))
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise CfgtrackError(f"{path}: must be a list of reviews (- key: ..., env: ..., ...)")
    reviews = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: review {number}"
        if not isinstance(entry, dict):
            raise CfgtrackError(f"{where}: must be a mapping with {', '.join(_FIELDS)}")
        missing = [name for name in _FIELDS if name not in entry]
        if missing:
            raise CfgtrackError(f"{where} ({entry.get('key', '?')}): missing {', '.join(missing)}")
        reviews.append(
            Review(
                key=str(entry["key"]),
                env=None if entry["env"] is None else str(entry["env"]),
                value=entry["value"],
                reviewer=str(entry["reviewer"]),
                date=_when(entry["date"], where),
                reason=str(entry["reason"]),
            )
        )
    return reviews


def append_review(path: Path, review: Review) -> None:
    """Add ``review`` at the end of the file (created with a header when missing)."""
    if not review.reason.strip():
        raise CfgtrackError('a review needs a reason: pass --reason "why the value is still right"')
    text = yaml.safe_dump([review.to_entry()], sort_keys=False, allow_unicode=True)
    existing = path.read_text(encoding="utf-8") if path.is_file() else HEADER
    if existing and not existing.endswith("\n"):
        existing += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(existing + text, encoding="utf-8")
