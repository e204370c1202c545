"""The rules: which key paths name secrets, and which text looks like one wherever it is."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from cfgtrack.redact.patterns import MASKED

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
    "authorization",
    "cookie",
    "tokens",
    "api_tokens",
    "pass",
    "pwd",
    "pgpassword",
    "dsn",
    "connection_string",
    "stripe_key",
    "account_key",
    "ssh_key",
)
# Words that name a secret only as the last word of a segment (``db_pass``, ``api_tokens``), not
# before another (``pass_rate``, ``tokens_per_batch``).
LAST_ONLY_WORDS = frozenset({"pass", "pwd", "tokens"})
# Words long enough to name a secret at the end of a segment written without word breaks
# (``PGPASSWORD``, ``PassWord``, ``topsecret``).
ENDING_WORDS = ("password", "passwd", "passphrase", "secret", "credentials", "credential")
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
OVERRIDE = re.compile(r"^(?P<key>(?:[+~]{0,2}|-{1,2})[A-Za-z_][\w.\-/@]*)=(?P<value>.*)$", re.S)
FLAG = re.compile(r"^-{1,2}(?P<key>[A-Za-z_][\w.\-]*)$")
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
        self._verdicts: dict[str, bool] = {}  # per segment: hashing the patterns costs more

    def segment_is_secret(self, segment: Any) -> bool:
        text = str(segment)
        verdict = self._verdicts.get(text)
        if verdict is None:
            verdict = self._verdicts[text] = _segment_is_secret(text, self.patterns)
        return verdict

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
            vocab = pattern[0] in _VOCAB_TOKENS and start > 0 and found[start - 1] in VOCAB_WORDS
            last_only = pattern[-1] in LAST_ONLY_WORDS and start + len(pattern) != len(found)
            if not vocab and not last_only:
                return True
    return "".join(found).endswith(ENDING_WORDS)


_VOCAB_TOKENS = frozenset({"token", "tokens"})


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
    if value is None or isinstance(value, bool) or value in ("", "???"):
        return False
    return not (isinstance(value, str) and is_mask(value))


def is_mask(text: str) -> bool:
    """True for a mask, with or without its digest."""
    return bool(MASKED.fullmatch(text))
