"""One compared fact of two runs, the unit every run-against-run output lays out alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cfgtrack.redact.masks import SecretComparison, compare_secret
from cfgtrack.redact.redactor import Redactor

ADDED, REMOVED, CHANGED, EQUAL = "added", "removed", "changed", "equal"
INFO = "info"  # a fact shown for context that is never a difference (a dataset's age)
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Item:
    """One compared fact of two runs: its text on each side (None: absent) and the kind."""

    name: str
    left: str | None
    right: str | None
    kind: str
    secret: SecretComparison | None = None

    @property
    def differs(self) -> bool:
        return self.kind not in (EQUAL, INFO)

    @property
    def kind_text(self) -> str:
        """The kind as every format prints it: ``secret: changed`` for text with a secret."""
        return self.secret.kind_text(self.kind) if self.secret else self.kind

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "left": self.left,
            "right": self.right,
            "kind": self.kind,
            "secret": self.secret.verdict if self.secret else None,
        }


def item(name: str, left: str | None, right: str | None) -> Item:
    """An item whose kind follows from presence and equality of the two sides; text that
    holds masks compares by their digests (both records were masked when they were made)."""
    secret = compare_secret(left, right, Redactor()) if left and right else None
    if secret is not None:
        kind = EQUAL if secret.equal else CHANGED
        return Item(name, secret.left, secret.right, kind, secret)
    if left == right:
        kind = EQUAL
    elif left is None:
        kind = ADDED
    elif right is None:
        kind = REMOVED
    else:
        kind = CHANGED
    return Item(name, left, right, kind)
