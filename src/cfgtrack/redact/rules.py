"""The rules: which key paths name secrets, and which text looks like one wherever it is."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

MASK = "***REDACTED***"

# Whole-word key names (multi-word ones match consecutive words: api_key matches apiKey).
DEFAULT_KEY_WORDS = (
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "api_key",
    "api_keys",
    "apikey",
    "access_key",
    "access_keys",
    "private_key",
    "signing_key",
    "encryption_key",
    "credential",
    "credentials",
    "creds",
    "auth",
    "cookie",
)
# A segment starting with one of these is a switch or a count about a secret, not the secret.
FLAG_WORDS = frozenset(
    {"use", "enable", "enabled", "disable", "is", "has", "with", "no", "num", "max", "min", "n"}
)
# A segment ending with one of these names something about a secret (where, which, how long).
DESCRIPTOR_WORDS = frozenset(
    {
        "path",
        "paths",
        "file",
        "files",
        "dir",
        "name",
        "names",
        "id",
        "ids",
        "type",
        "types",
        "length",
        "len",
        "size",
        "count",
        "dim",
        "env",
        "var",
        "url",
        "uri",
        "endpoint",
        "host",
        "port",
        "enabled",
        "required",
        "expiry",
        "ttl",
        "timeout",
    }
)
# A token preceded by one of these is a vocabulary token of a language model.
VOCAB_WORDS = frozenset(
    {"cls", "sep", "pad", "eos", "bos", "unk", "mask", "sos", "start", "end", "special", "vocab"}
)
SHORT_TEXT = 4096  # shorter text is checked in one piece; longer text line by line
MIN_LEARNED_LENGTH = 6  # shorter masked values are not hunted in free text (too many false hits)

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SEGMENT_SPLIT = re.compile(r"[./@]")

PRIVATE_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----"
    r"(?P<body>.*?)(?=-----END (?P=kind)PRIVATE KEY( BLOCK)?-----|\Z)",
    re.S,
)
URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)[^@/\s]+(?=@)")
_AWS_PREFIXES = ("AKIA", "ASIA")  # long-term and temporary access key ids
AWS_KEY_ID = re.compile(r"\b(?:" + "|".join(_AWS_PREFIXES) + r")[0-9A-Z]{16}\b")
AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
TOKEN_PATTERNS = re.compile(
    "|".join(
        (
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",
            r"\bgithub_pat_[A-Za-z0-9_]{22,}",
            r"\bglpat-[A-Za-z0-9_\-]{20,}",
            r"\bxox[baprs]-[A-Za-z0-9\-]{10,}",
            r"\bsk-(?:[A-Za-z0-9_]+-)*[A-Za-z0-9_]{20,}",
            r"\bhf_[A-Za-z0-9]{30,}",
            r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}",
            r"(?<=\bBearer )[A-Za-z0-9\-._~+/]{8,}=*",
        )
    )
)
# ``key=value`` and ``key: value`` in free text; the key decides. After ``=`` a value ends at
# a space or separator (``a=1,password=x``), after ``:`` at the end of the line (YAML), or at a
# comma or brace when the key was quoted (JSON, Python reprs).
_KEY = r"(?<![\w.\-])(?P<key>[A-Za-z_][\w.\-]*)(?P<quoted>[\"'])?[ \t]*"
_QUOTED = r"\"[^\"\n]*\"|'[^'\n]*'"
ASSIGN_EQUALS = re.compile(_KEY + r"=[ \t]*(?P<value>" + _QUOTED + r"|[^\s,;&\"'<>]*)")
ASSIGN_COLON = re.compile(
    _KEY + r":(?!//)[ \t]*(?P<value>" + _QUOTED + r"|(?(quoted)[^\n,}]*|[^\n]*))"
)
# Lower-case substrings without which no value pattern can match.
_TOKEN_MARKERS = (
    *(f"gh{kind}_" for kind in "pousr"),
    "github_pat_",
    "glpat-",
    "xox",
    "sk-",
    "hf_",
    "eyj",
    "bearer ",
)
VALUE_MARKERS = (
    ("://", "url"),
    *((prefix.lower(), "aws") for prefix in _AWS_PREFIXES),
    *((marker, "token") for marker in _TOKEN_MARKERS),
)
EVERY_FAMILY = frozenset({"url", "token", "aws", "key"})
OVERRIDE = re.compile(r"^(?P<key>[+~]{0,2}[A-Za-z_][\w.\-/@]*)=(?P<value>.*)$", re.S)
_REFERENCE = re.compile(r"^(?:\$\{[\w.:\-/\[\]]+\})+$")
ENV_REFERENCE = re.compile(r"\$\{oc\.env:(?P<name>[\w.\-]+)")
KEY_REFERENCE = re.compile(r"\$\{(?P<path>[A-Za-z_][\w.\-\[\]]*)\}")
LITERALS = frozenset({"true", "false", "null", "none", ""})


def words(segment: str) -> tuple[str, ...]:
    """Lower-case words of one key segment: ``aws_secret_accessKey`` -> aws secret access key."""
    return tuple(word.lower() for word in _WORDS.findall(segment))


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> list[int]:
    size = len(needle)
    return [i for i in range(len(haystack) - size + 1) if haystack[i : i + size] == needle]


def is_reference(value: Any) -> bool:
    """True for a value that only points elsewhere (``${oc.env:API_KEY}``, ``${db.password}``)."""
    return isinstance(value, str) and bool(_REFERENCE.match(value.strip()))


class KeyRule:
    """Decides which key names hold secrets (see the module docstring)."""

    def __init__(self, extra_words: Iterable[str] = ()) -> None:
        names = [*DEFAULT_KEY_WORDS, *extra_words]
        self.patterns = tuple(dict.fromkeys(w for w in (words(n) for n in names) if w))
        self.markers = _covering_words(self.patterns)

    def segment_is_secret(self, segment: Any) -> bool:
        return _segment_is_secret(str(segment), self.patterns)

    def is_descriptor(self, segment: Any) -> bool:
        return _is_descriptor(str(segment))

    def is_secret(self, path: str | Sequence[Any]) -> bool:
        """True when a key path (``db.password`` or its segments) names a secret."""
        segments = _SEGMENT_SPLIT.split(path) if isinstance(path, str) else list(path)
        if not segments or self.is_descriptor(segments[-1]):
            return False
        return any(self.segment_is_secret(segment) for segment in segments)


@functools.lru_cache(maxsize=1 << 16)
def _segment_is_secret(segment: str, patterns: tuple[tuple[str, ...], ...]) -> bool:
    found = words(segment)
    if not found or found[0] in FLAG_WORDS or found[-1] in DESCRIPTOR_WORDS:
        return False
    for pattern in patterns:
        for start in _contains(found, pattern):
            vocab = pattern == ("token",) and start > 0 and found[start - 1] in VOCAB_WORDS
            if not vocab:
                return True
    return False


@functools.lru_cache(maxsize=1 << 16)
def _is_descriptor(segment: str) -> bool:
    found = words(segment)
    return bool(found) and found[-1] in DESCRIPTOR_WORDS


def _covering_words(patterns: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """A few words such that every pattern holds one (``key`` for api_key, access_key...):
    lower-case text without any of them holds no secret assignment. Each marker costs one scan
    of a long text, so fewer is faster."""
    uncovered = set(patterns)
    chosen: set[str] = set()
    while uncovered:
        counts: dict[str, int] = {}
        for pattern in uncovered:
            for word in set(pattern):
                counts[word] = counts.get(word, 0) + 1
        best = max(sorted(counts), key=lambda word: counts[word])
        chosen.add(best)
        uncovered = {pattern for pattern in uncovered if not any(best in w for w in pattern)}
    return tuple(sorted(w for w in chosen if not any(o != w and o in w for o in chosen)))


def maskable(value: Any) -> bool:
    """Nulls, booleans, empty and missing (``???``) values hide nothing."""
    return value is not None and not isinstance(value, bool) and value not in ("", "???", MASK)
