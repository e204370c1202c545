"""Free text, cheaply: which lines hold a marker, and the key blocks that span many lines.

A 10 MB text costs one lower-casing, one scan per marker and one per line break: every step is
linear in the length of the text, however many markers it holds.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable

from cfgtrack.redact.patterns import PRIVATE_KEY, PUTTY_MAC, PUTTY_PRIVATE

Masker = Callable[[str], str]


def line_spans(
    text: str, lowered: str, markers: Iterable[tuple[str, str]]
) -> list[tuple[int, int, set[str]]]:
    """``(start, end, marker families)`` of each line of ``text`` that holds a marker, in order.

    ``markers`` are (lower-case substring, family) pairs, searched in ``lowered``.
    """
    if len(lowered) != len(text):  # lower-casing changed lengths: offsets would not line up
        return [(0, len(text), {family for _, family in markers})]
    breaks = [m.start() for m in re.finditer("\n", text)]
    found: dict[int, set[str]] = {}
    for marker, family in markers:
        at = lowered.find(marker)
        while at != -1:
            line = bisect_right(breaks, at)
            found.setdefault(line, set()).add(family)
            # the rest of this line is already taken: look on from the next line break
            at = lowered.find(marker, breaks[line] + 1) if line < len(breaks) else -1
    spans = []
    for line in sorted(found):
        start = breaks[line - 1] + 1 if line else 0
        end = breaks[line] if line < len(breaks) else len(text)
        spans.append((start, end, found[line]))
    return spans


def mask_key_blocks(text: str, mask: Masker) -> str:
    """Private key blocks (PEM, PGP) and PuTTY key files keep their header and line structure
    (and a patch's ``+`` / ``-`` marks); the content of every secret line is masked."""
    if "PRIVATE KEY" in text:
        text = PRIVATE_KEY.sub(lambda m: _mask_pem_body(m, mask), text)
    if "Private-Lines:" in text:
        text = _mask_putty(text, mask)
    return text


def _mask_pem_body(match: re.Match[str], mask: Masker) -> str:
    header = match[0][: match.start("body") - match.start()]
    return header + re.sub(r"(?m)^.*$", lambda line: _mask_line(line[0], mask), match["body"])


def _mask_line(line: str, mask: Masker) -> str:
    mark = line[:1] if line[:1] in ("+", "-", " ") else ""
    rest = line[len(mark) :]
    if not rest.strip():
        return line
    indent = rest[: len(rest) - len(rest.lstrip())]
    return mark + indent + mask(rest.strip())


def _mask_putty(text: str, mask: Masker) -> str:
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        found = PUTTY_PRIVATE.match(lines[index])
        index += 1
        if found:
            count = int(found["count"])
            for at in range(index, min(index + count, len(lines))):
                lines[at] = _mask_line(lines[at], mask)
            index += count
    return PUTTY_MAC.sub(lambda m: m["head"] + mask(m["value"]), "\n".join(lines))
