"""Documented differences: the checked-in list of differences between envs that are intended.

The file (default ``<config dir>/cfgtrack-diff.yaml``) names, per pair of envs, key globs that
may differ, each with the reason why::

    version: 1
    pairs:
      - between: [staging, prod]
        differences:
          - key: serving.replicas
            reason: prod serves real traffic; staging only smoke tests
          - key: logging.*
            reason: staging logs at DEBUG to debug deployments

A pair applies to a comparison in either order; names are env names (or, for file specs, the
file path as written) and may be globs (``"*"``). Key globs use shell-style matching on key
paths (``*`` also crosses dots). An entry that matches no current difference is reported as
unused: documentation that went stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from cfgtrack.errors import CfgtrackError

DEFAULT_FILE_NAME = "cfgtrack-diff.yaml"
_LINE = "__line__"


@dataclass(frozen=True)
class DocumentedDifference:
    """One documented key glob for one pair of envs."""

    between: tuple[str, str]
    key: str
    reason: str
    source: str
    line: int

    def applies_to(self, left: str | None, right: str | None) -> bool:
        """True when this entry's pair names the two sides (in either order)."""
        first, second = self.between
        left, right = left or "", right or ""
        return (fnmatchcase(left, first) and fnmatchcase(right, second)) or (
            fnmatchcase(left, second) and fnmatchcase(right, first)
        )

    def matches(self, key: str) -> bool:
        return fnmatchcase(key, self.key)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "between": list(self.between),
            "key": self.key,
            "reason": self.reason,
            "file": self.source,
            "line": self.line,
        }


def _loader() -> type:
    import yaml

    class LineLoader(yaml.SafeLoader):
        """Records the line of every mapping, so errors can point at the entry."""

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            mapping = super().construct_mapping(node, deep=deep)
            mapping[_LINE] = node.start_mark.line + 1
            return mapping

    return LineLoader


def load_documented(path: Path) -> list[DocumentedDifference]:
    """Every entry of the documented-differences file; an empty list when there is no file."""
    if not path.is_file():
        return []
    from cfgtrack.config.yaml_files import parse_yaml

    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CfgtrackError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    data = parse_yaml(raw, shown, loader=_loader())
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("pairs", []), list):
        raise CfgtrackError(f"{shown}: expected a mapping with a list under 'pairs'")
    entries = []
    for pair in data.get("pairs", []):
        entries.extend(_pair_entries(pair, shown))
    return entries


def _pair_entries(pair: Any, shown: str) -> list[DocumentedDifference]:
    if not isinstance(pair, dict):
        raise CfgtrackError(f"{shown}: each item of 'pairs' must be a mapping with 'between'")
    where = f"{shown}:{pair[_LINE]}"
    between = pair.get("between")
    if not (
        isinstance(between, list) and len(between) == 2 and all(isinstance(n, str) for n in between)
    ):
        raise CfgtrackError(f"{where}: 'between' must name two envs, e.g. [staging, prod]")
    differences = pair.get("differences") or []
    if not isinstance(differences, list):
        raise CfgtrackError(f"{where}: 'differences' must be a list of key/reason entries")
    entries = []
    for item in differences:
        if not isinstance(item, dict):
            raise CfgtrackError(f"{where}: each difference must be a mapping with key and reason")
        item_where = f"{shown}:{item[_LINE]}"
        key, reason = item.get("key"), item.get("reason")
        if not isinstance(key, str) or not key.strip():
            raise CfgtrackError(f"{item_where}: missing 'key' (a key path or glob)")
        if not isinstance(reason, str) or not reason.strip():
            raise CfgtrackError(
                f"{item_where}: {key!r} has no reason; every documented difference says why"
            )
        entries.append(
            DocumentedDifference(
                between=(between[0], between[1]),
                key=key.strip(),
                reason=" ".join(reason.split()),
                source=shown,
                line=item[_LINE],
            )
        )
    return entries


def applicable(
    entries: list[DocumentedDifference], left: str | None, right: str | None
) -> list[DocumentedDifference]:
    """The entries whose pair names these two sides."""
    return [entry for entry in entries if entry.applies_to(left, right)]


def explain(key: str, entries: list[DocumentedDifference]) -> DocumentedDifference | None:
    """The first entry documenting ``key``, or None."""
    for entry in entries:
        if entry.matches(key):
            return entry
    return None
