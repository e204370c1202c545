"""Whether two values that hold masks are the same, without showing either.

A mask names its key and carries the keyed digest of what it hides
(``***REDACTED:<key id>:<digest>***``), so two masks compare by digest when their key ids agree,
and are "not comparable" when they do not (a run recorded in another clone, under a rotated key,
or with ``CFGTRACK_SECRET_KEY`` set). A clear value facing a mask (a run recorded before masking,
a value under a rule that changed since) is masked with the project key first: it is compared by
its digest and shown as its mask, never as itself. Older forms stay readable: a mask without a key
id (``***REDACTED:<digest>***``) compares by digest alone, one without a digest
(``***REDACTED***``) with nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cfgtrack.redact.patterns import MASK_START, MASKED
from cfgtrack.redact.redactor import Redactor

SAME, CHANGED, NOT_COMPARABLE = "same", "changed", "not comparable"
OTHER_KEY = "recorded under another key"
NO_DIGEST = "masked without a digest"


@dataclass(frozen=True)
class SecretComparison:
    """A value holding secrets compared: ``verdict`` (``same``, ``changed``, ``not comparable``)
    with its ``reason`` when not comparable; ``equal`` for the whole value (its clear parts
    too); ``left`` and ``right`` are the values to show, every secret part a mask."""

    verdict: str
    reason: str | None
    equal: bool
    left: Any
    right: Any

    @property
    def text(self) -> str:
        """``secret: same``, ``secret: changed``, ``secret: not comparable (<reason>)``."""
        return f"secret: {self.verdict}" + (f" ({self.reason})" if self.reason else "")

    def kind_text(self, kind: str) -> str:
        """What a row of kind ``kind`` says: the secret's verdict, and the kind too when the
        value changed around a secret that did not (``changed (secret: same)``)."""
        if self.verdict == SAME and not self.equal:
            return f"{kind} ({self.text})"
        return self.text


def holds_mask(value: Any) -> bool:
    """True for a string, or a list with a string, that holds a mask (a cheap substring test)."""
    if isinstance(value, str):
        return MASK_START in value
    return isinstance(value, list) and any(
        isinstance(item, str) and MASK_START in item for item in value
    )


def compare_secret(left: Any, right: Any, redactor: Redactor) -> SecretComparison | None:
    """Compare two values of one key when either holds a mask; None when neither does."""
    if not holds_mask(left) and not holds_mask(right):
        return None
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        pairs = [_pair(a, b, redactor) for a, b in zip(left, right, strict=True)]
    elif isinstance(left, list) or isinstance(right, list):
        pairs = [_whole(left, right, redactor)]
    else:
        pairs = [_pair(left, right, redactor)]
    found = [outcome for outcome, _, _, _ in pairs if outcome is not None]
    verdict, reason = _combined(found)
    equal = verdict == SAME and all(same for _, same, _, _ in pairs)
    if isinstance(left, list) and isinstance(right, list) and len(pairs) == len(left):
        shown = [a for _, _, a, _ in pairs], [b for _, _, _, b in pairs]
    else:
        shown = pairs[0][2], pairs[0][3]
    return SecretComparison(verdict, reason, equal, *shown)


Outcome = tuple[str, str | None] | None  # (verdict, reason) of the secret parts; None: no secret
Pair = tuple[Outcome, bool, Any, Any]  # outcome, whole values equal, the two values to show


def _pair(a: Any, b: Any, redactor: Redactor) -> Pair:
    """Two scalars (or list items) of which one or both may hold masks."""
    a_masks, b_masks = holds_mask(a), holds_mask(b)
    if not a_masks and not b_masks:
        return None, type(a) is type(b) and a == b, a, b
    if a_masks and b_masks:
        return _templates(a, b)
    if b_masks:
        outcome, same, shown_b, shown_a = _against_clear(b, a, redactor)
        return outcome, same, shown_a, shown_b
    return _against_clear(a, b, redactor)


def _whole(a: Any, b: Any, redactor: Redactor) -> Pair:
    """Values of different shapes (a list and a scalar, lists of different lengths): changed,
    and a side without masks shown as one mask, since which part of it is secret is unknown."""
    shown_a = a if holds_mask(a) else redactor.masked(a)
    shown_b = b if holds_mask(b) else redactor.masked(b)
    return (CHANGED, None), False, shown_a, shown_b


def _templates(a: str, b: str) -> Pair:
    """Two strings with masks: the clear text around the masks, and each pair of masks."""
    a_parts, b_parts = MASKED.split(a), MASKED.split(b)
    a_masks, b_masks = MASKED.findall(a), MASKED.findall(b)
    if len(a_masks) != len(b_masks):
        return (CHANGED, None), False, a, b
    outcomes = [_masks(x, y) for x, y in zip(MASKED.finditer(a), MASKED.finditer(b), strict=True)]
    outcome = _combined(outcomes)
    same_text = _literals(a_parts) == _literals(b_parts)
    return outcome, same_text and outcome[0] == SAME, a, b


def _literals(parts: list[str | None]) -> list[str | None]:
    """The clear text of a string split on masks (``split`` also returns the groups: every
    third item is text)."""
    return parts[:: len(MASKED.groupindex) + 1]


def _against_clear(masked: str, clear: Any, redactor: Redactor) -> Pair:
    """A value with masks against a clear one: the clear value's secret parts are masked with
    the project key (the whole of it when the masked side is one mask) and compared."""
    if MASKED.fullmatch(masked):
        shown = redactor.masked(clear)
        outcome = _masks(MASKED.fullmatch(masked), MASKED.fullmatch(shown))
        return outcome, outcome[0] == SAME, masked, shown
    literals = _literals(MASKED.split(masked))
    template = "(.+?)".join(re.escape(text or "") for text in literals)
    matched = re.fullmatch(template, clear, re.S) if isinstance(clear, str) else None
    if matched is None:
        return (CHANGED, None), False, masked, redactor.masked(clear)
    hidden = [redactor.masked(part) for part in matched.groups()]
    shown = "".join(
        text + (hidden[index] if index < len(hidden) else "") for index, text in enumerate(literals)
    )
    outcome = _combined(
        [
            _masks(x, MASKED.fullmatch(y))
            for x, y in zip(MASKED.finditer(masked), hidden, strict=True)
        ]
    )
    return outcome, outcome[0] == SAME, masked, shown


def _masks(a: re.Match[str] | None, b: re.Match[str] | None) -> tuple[str, str | None]:
    """Two masks: by digest when their keys may agree."""
    if a is None or b is None or not a["digest"] or not b["digest"]:
        return NOT_COMPARABLE, NO_DIGEST
    if a["key_id"] and b["key_id"] and a["key_id"] != b["key_id"]:
        return NOT_COMPARABLE, OTHER_KEY
    return (SAME if a["digest"] == b["digest"] else CHANGED), None


def _combined(outcomes: list[tuple[str, str | None]]) -> tuple[str, str | None]:
    for outcome in outcomes:
        if outcome[0] == NOT_COMPARABLE:
            return outcome
    return (CHANGED, None) if any(o[0] == CHANGED for o in outcomes) else (SAME, None)
