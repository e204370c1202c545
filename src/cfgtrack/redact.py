"""Secret detection and masking: nothing that looks like a secret leaves the process.

Two kinds of rules, applied to every part of a run record before any sink sees it:

- Key rules: a key path is secret when one of its segments names a secret as whole words
  (``db_password``, ``api_token``, ``aws_secret_access_key``, ``apiKey``), split on ``_``, ``-``,
  digits and camelCase. Whole words keep ``max_tokens`` and ``tokenizer``; a segment that starts
  with a switch or count word (``use_``, ``max_``, ``num_``...) or ends with a word that names
  something about the secret (``_path``, ``_file``, ``_name``, ``_url``...) is kept too, and so
  is a vocabulary token (``cls_token``, ``pad_token``). Booleans and nulls are never masked.
- Value rules: text that looks like a secret wherever it appears (AWS key ids and the secret
  keys next to them, GitHub, GitLab, Slack, OpenAI and Hugging Face tokens, private key blocks,
  JWTs, bearer tokens, the password of a ``user:password@`` URL, ``password=...`` assignments)
  and every value already masked by a key rule, wherever it shows up again (a patch, a
  traceback, a log line).

A ``Redactor`` learns the values it masks by key, so one per run redacts the config first, then
the rest of the record with what it learned.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
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

_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----"
    r"(?P<body>.*?)(?=-----END (?P=kind)PRIVATE KEY( BLOCK)?-----|\Z)",
    re.S,
)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)[^@/\s]+(?=@)")
_AWS_PREFIXES = ("AKIA", "ASIA")  # long-term and temporary access key ids
_AWS_KEY_ID = re.compile(r"\b(?:" + "|".join(_AWS_PREFIXES) + r")[0-9A-Z]{16}\b")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
_TOKENS = re.compile(
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
_ASSIGN_EQUALS = re.compile(_KEY + r"=[ \t]*(?P<value>" + _QUOTED + r"|[^\s,;&\"'<>]*)")
_ASSIGN_COLON = re.compile(
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
_VALUE_MARKERS = (
    ("://", "url"),
    *((prefix.lower(), "aws") for prefix in _AWS_PREFIXES),
    *((marker, "token") for marker in _TOKEN_MARKERS),
)
_EVERY_FAMILY = frozenset({"url", "token", "aws", "key"})
_OVERRIDE = re.compile(r"^(?P<key>[+~]{0,2}[A-Za-z_][\w.\-/@]*)=(?P<value>.*)$", re.S)
_REFERENCE = re.compile(r"^(?:\$\{[\w.:\-/\[\]]+\})+$")
_ENV_REFERENCE = re.compile(r"\$\{oc\.env:(?P<name>[\w.\-]+)")
_KEY_REFERENCE = re.compile(r"\$\{(?P<path>[A-Za-z_][\w.\-\[\]]*)\}")
_LITERALS = frozenset({"true", "false", "null", "none", ""})


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


def _maskable(value: Any) -> bool:
    """Nulls, booleans, empty and missing (``???``) values hide nothing."""
    return value is not None and not isinstance(value, bool) and value not in ("", "???", MASK)


class Redactor:
    """Masks secrets in config trees, override strings, free text and whole run records."""

    def __init__(self, extra_key_words: Iterable[str] = ()) -> None:
        self.keys = KeyRule(extra_key_words)
        self.learned: set[str] = set()
        self._longest_first: list[str] = []
        self._markers = (*((marker, "key") for marker in self.keys.markers), *_VALUE_MARKERS)
        self._family = dict(self._markers)
        self._any_marker = re.compile("|".join(re.escape(marker) for marker, _ in self._markers))

    # -- what has been masked by key is hunted everywhere else ---------------------------------
    def learn(self, value: Any) -> None:
        text = value if isinstance(value, str) else str(value)
        if len(text) >= MIN_LEARNED_LENGTH and text != MASK and text not in self.learned:
            self.learned.add(text)
            self._longest_first = sorted(self.learned, key=len, reverse=True)

    def may_hold_secret(self, text: str) -> bool:
        """False when no rule can match anything in ``text`` (one cheap scan)."""
        return any(value in text for value in self.learned) or bool(
            self._any_marker.search(text.lower())
        )

    def _mask(self, value: Any, *, keep_references: bool = False) -> Any:
        if not _maskable(value) or (keep_references and is_reference(value)):
            return value
        self.learn(value)
        return MASK

    # -- strings -------------------------------------------------------------------------------
    def text(self, text: str, *, aws_context: bool = False) -> str:
        """Free text (a patch, a traceback, a message) with every secret-looking part masked.

        Only the lines that hold a marker (a key word, a token prefix, ``://``) go through the
        patterns that marker calls for, so a 10 MB patch costs a few plain substring scans.
        """
        if not text:
            return text
        if "PRIVATE KEY" in text:
            text = _PRIVATE_KEY.sub(_mask_key_body, text)
        for value in self._longest_first:
            if value in text:
                text = text.replace(value, MASK)
        if aws_context:
            spans = [(0, len(text), {*_EVERY_FAMILY, "aws-context"})]
        elif len(text) <= SHORT_TEXT:
            found = {self._family[m[0]] for m in self._any_marker.finditer(text.lower())}
            spans = [(0, len(text), found)] if found else []
        else:
            spans = _line_spans(text, text.lower(), self._markers)
        pieces, done = [], 0
        for start, end, families in spans:
            pieces += [text[done:start], self._line(text[start:end], families)]
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def _line(self, line: str, families: set[str]) -> str:
        """One line through the patterns its markers call for."""
        if "url" in families and "@" in line:
            line = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, line)
        if "token" in families:
            line = _TOKENS.sub(MASK, line)
        if ("aws" in families and _AWS_KEY_ID.search(line)) or "aws-context" in families:
            line = _AWS_SECRET.sub(_mask_aws_secret, _AWS_KEY_ID.sub(MASK, line))
        if "key" in families:
            line = _ASSIGN_EQUALS.sub(self._mask_assignment, line)
            line = _ASSIGN_COLON.sub(self._mask_assignment, line)
        return line

    def _mask_assignment(self, match: re.Match[str]) -> str:
        value = match["value"]
        quote = value[:1] if value[:1] in "\"'" and len(value) >= 2 else ""
        inner = value[1:-1] if quote else value
        if not self.keys.is_secret(match["key"]) or not self._maskable_text(inner):
            return match[0]
        start = match.start("value") - match.start()
        return match[0][:start] + quote + MASK + quote

    @staticmethod
    def _maskable_text(value: str) -> bool:
        stripped = value.strip()
        return stripped.lower() not in _LITERALS and stripped != MASK and not is_reference(stripped)

    def string(self, value: str, *, aws_context: bool = False) -> str:
        """A string value or a command-line argument: an override ``key=value`` is masked by its
        key (``db.password=hunter2`` -> ``db.password=***REDACTED***``), anything else as text."""
        match = _OVERRIDE.match(value)
        if match and self.keys.is_secret(match["key"].lstrip("+~")):
            if self._maskable_text(match["value"]):
                self.learn(match["value"])
                return f"{match['key']}={MASK}"
            return value
        return self.text(value, aws_context=aws_context)

    # -- trees ---------------------------------------------------------------------------------
    def tree(
        self,
        tree: Any,
        *,
        keys: bool = True,
        keep_references: bool = False,
        secret_paths: frozenset[str] = frozenset(),
    ) -> Any:
        """A copy of a config-like tree with secret leaves masked.

        ``keys=False`` applies only the value rules (for trees whose keys are not config keys,
        such as package names). ``keep_references`` leaves ``${...}`` references in place (the
        unresolved config). ``secret_paths`` are extra dotted leaf paths to mask.
        """
        walker = _Walk(self, keys, keep_references, secret_paths)
        return walker.node(tree, (), False, False)

    def _learn_tree(self, tree: Any, secret_paths: frozenset[str] = frozenset()) -> None:
        """Learn the values a key rule masks in ``tree`` without masking anything yet."""
        walker = _Walk(self, True, True, secret_paths, learn_only=True)
        walker.node(tree, (), False, False)

    def learn_config(self, captured: Mapping[str, Any]) -> frozenset[str]:
        """Learn every value a key rule masks in a captured config, masking nothing; returns
        the resolved leaves whose unresolved text refers to a secret."""
        secret_paths = self._referring_to_secrets(captured.get("unresolved"))
        self._learn_tree(captured.get("resolved"), secret_paths)
        self._learn_tree([captured.get("unresolved"), captured.get("hydra")])
        for name in _ARGUMENT_LISTS:
            for item in captured.get(name) or []:
                self.string(str(item))
        return secret_paths

    def config(self, captured: Mapping[str, Any]) -> dict[str, Any]:
        """A captured config (``record.config.capture_config``) with its secrets masked.

        A resolved value is masked when its key says so, when it looks secret, or when its
        unresolved text refers to a secret (``${oc.env:API_KEY}``, ``${db.password}``); the
        unresolved config keeps such references as they are. A first pass learns every value
        masked by key, so the second finds them anywhere else in the config too.
        """
        secret_paths = self.learn_config(captured)
        result = dict(captured)
        for name, value in captured.items():
            if name == "resolved":
                result[name] = self.tree(value, secret_paths=secret_paths)
            elif name in ("unresolved", "hydra"):
                result[name] = self.tree(value, keep_references=True)
            elif name in _ARGUMENT_LISTS:
                result[name] = [self.string(str(item)) for item in value or []]
            elif name != "hash":
                result[name] = self.tree(value, keys=False)
        return result

    def _referring_to_secrets(self, unresolved: Any) -> frozenset[str]:
        from cfgtrack.config.flatten import flatten

        if not isinstance(unresolved, Mapping):
            return frozenset()
        found = set()
        for path, value in flatten(unresolved).items():
            texts = value if isinstance(value, list) else [value]
            for text in (item for item in texts if isinstance(item, str)):
                names = [m["name"] for m in _ENV_REFERENCE.finditer(text)]
                names += [m["path"] for m in _KEY_REFERENCE.finditer(text)]
                if any(self.keys.is_secret(name) for name in names):
                    found.add(path)
        return frozenset(found)

    def rest_of_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A run record with every section but ``config`` masked (that one comes from
        ``config``, and the config hash is taken in between): environment variables by name
        and value, every other string by the value rules. The environment goes first, so the
        values it masks are also found in a patch or a message."""
        done: dict[str, Any] = {"config": record.get("config")}
        environment = record.get("environment")
        if isinstance(environment, Mapping):
            variables = environment.get("env_vars")
            masked_variables = self.tree(variables) if isinstance(variables, Mapping) else None
            done["environment"] = self.tree(environment, keys=False)
            if masked_variables is not None:
                done["environment"]["env_vars"] = masked_variables
        return {
            section: done[section] if section in done else self.tree(content, keys=False)
            for section, content in record.items()
        }

    def error(self, error: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A run's error (type, message, traceback) with its secrets masked."""
        return None if error is None else self.tree(error, keys=False)


_ARGUMENT_LISTS = ("overrides", "hydra_overrides", "command")
_SCALARS = frozenset({str, int, float, bool, type(None)})


class _Walk:
    """One pass over a tree; keeps the options of ``Redactor.tree`` in one place."""

    def __init__(
        self,
        redactor: Redactor,
        keys: bool,
        keep_references: bool,
        secret_paths: frozenset[str],
        learn_only: bool = False,
    ) -> None:
        self.redactor = redactor
        self.keys = keys
        self.keep_references = keep_references
        self.secret_paths = secret_paths
        self.learn_only = learn_only

    def node(self, value: Any, path: tuple[str, ...], secret: bool, aws: bool) -> Any:
        secret = secret or (bool(self.secret_paths) and ".".join(path) in self.secret_paths)
        if type(value) in _SCALARS:
            return self.leaf(value, path, secret, aws)
        if isinstance(value, Mapping):
            near_aws = not self.learn_only and _holds_aws_key_id(value.values())
            return {
                key: self.node(child, (*path, str(key)), self._secret(secret, key), near_aws)
                for key, child in value.items()
            }
        if isinstance(value, (list, tuple)):
            near_aws = not self.learn_only and _holds_aws_key_id(value)
            return [
                self.node(child, (*path, str(index)), secret, near_aws)
                for index, child in enumerate(value)
            ]
        return self.leaf(value, path, secret, aws)

    def leaf(self, value: Any, path: tuple[str, ...], secret: bool, aws: bool) -> Any:
        if secret and not (path and self.redactor.keys.is_descriptor(path[-1])):
            return self.redactor._mask(value, keep_references=self.keep_references)
        if isinstance(value, str) and not self.learn_only:
            return self.redactor.string(value, aws_context=aws)
        return value

    def _secret(self, inherited: bool, key: Any) -> bool:
        return inherited or (self.keys and self.redactor.keys.segment_is_secret(key))


def _holds_aws_key_id(values: Iterable[Any]) -> bool:
    return any(isinstance(item, str) and _AWS_KEY_ID.search(item) for item in values)


def _line_spans(
    text: str, lowered: str, markers: Iterable[tuple[str, str]]
) -> list[tuple[int, int, set[str]]]:
    """``(start, end, marker families)`` of each line of ``text`` that holds a marker, in order.

    ``markers`` are (lower-case substring, family) pairs, searched in ``lowered``.
    """
    if len(lowered) != len(text):  # lower-casing changed lengths: offsets would not line up
        return [(0, len(text), set(_EVERY_FAMILY))]
    found: dict[int, set[str]] = {}
    for marker, family in markers:
        at = lowered.find(marker)
        while at != -1:
            found.setdefault(text.rfind("\n", 0, at) + 1, set()).add(family)
            at = lowered.find(marker, at + len(marker))
    spans = []
    for start in sorted(found):
        end = text.find("\n", start)
        spans.append((start, len(text) if end == -1 else end, found[start]))
    return spans


def _mask_key_body(match: re.Match[str]) -> str:
    """Keep a private key block's header and its lines (and a patch's ``+`` / ``-`` marks);
    mask the content of every line of its body."""
    header = match[0][: match.start("body") - match.start()]
    return header + re.sub(r"(?m)^.*$", _mask_line, match["body"])


def _mask_line(match: re.Match[str]) -> str:
    line = match[0]
    mark = line[:1] if line[:1] in ("+", "-", " ") else ""
    rest = line[len(mark) :]
    if not rest.strip():
        return line
    return mark + rest[: len(rest) - len(rest.lstrip())] + MASK


def _mask_aws_secret(match: re.Match[str]) -> str:
    candidate = match[0]
    mixed_case = any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
    return MASK if mixed_case else candidate


# -- Hydra's own files ---------------------------------------------------------------------------
# Hydra saves the job's config, its own config and the overrides (``.hydra/``), and a sweep's
# ``multirun.yaml``, with the raw values, before any callback runs. The tracking callback masks
# them in ``on_job_start``, before the task starts.
HYDRA_JOB_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")


def hydra_saved_files(config: Any) -> list[Path]:
    """The files Hydra has written for this job by the time its callbacks run."""
    from omegaconf import OmegaConf

    def select(key: str) -> Any:
        return OmegaConf.select(config, key, default=None)

    found = []
    output_dir, subdir = select("hydra.runtime.output_dir"), select("hydra.output_subdir")
    if output_dir and subdir is not None:
        found += [Path(output_dir, str(subdir), name) for name in HYDRA_JOB_FILES]
    mode = select("hydra.mode")
    if getattr(mode, "name", mode) == "MULTIRUN" and select("hydra.sweep.dir"):
        base = select("hydra.runtime.cwd") or "."
        found.append(Path(base, str(select("hydra.sweep.dir")), "multirun.yaml"))
    return found


def redact_hydra_files(config: Any, extra_key_words: Iterable[str] = ()) -> list[Path]:
    """Mask secrets in the files Hydra saved for this job; returns the files rewritten.

    Hydra saves the config unresolved, so the job's unresolved config tells whether any file
    holds a secret; only then are the files read back and rewritten.
    """
    from omegaconf import OmegaConf

    redactor = Redactor(extra_key_words)
    tree = OmegaConf.to_container(config, resolve=False)
    redactor._learn_tree(tree)
    if redactor.tree(tree, keep_references=True) == tree:
        return []
    return rewrite_yaml_files(hydra_saved_files(config), redactor)


def rewrite_yaml_files(paths: Iterable[Path], redactor: Redactor) -> list[Path]:
    """Rewrite the YAML files that hold a secret, masked; the others keep every byte."""
    from omegaconf import OmegaConf

    from cfgtrack.record.run_record import write_atomic

    rewritten = []
    for path in paths:
        if not path.is_file() or not redactor.may_hold_secret(path.read_text(encoding="utf-8")):
            continue
        loaded = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        masked = redactor.tree(loaded, keep_references=True)
        if masked != loaded:
            write_atomic(path, OmegaConf.to_yaml(OmegaConf.create(masked)))
            rewritten.append(path)
    return rewritten
