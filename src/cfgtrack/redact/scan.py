"""Free text, cheaply: which lines hold a marker, and the key blocks that span many lines.

A 10 MB text costs one lower-casing, one scan per marker and one per line break: every step is
linear in the length of the text, however many markers it holds.
"""

from __future__ import annotations

import re
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
    found: dict[int, tuple[int, set[str]]] = {}
    size = len(text)
    for marker, family in markers:
        at = lowered.find(marker)
        while at != -1:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = size if end == -1 else end
            found.setdefault(start, (end, set()))[1].add(family)
            # the rest of this line is already taken: look on after it, so each line is
            # scanned once per marker however many times the marker is on it
            at = lowered.find(marker, end + 1) if end < size else -1
    return [(start, *found[start]) for start in sorted(found)]


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
