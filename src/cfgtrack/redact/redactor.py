"""``Redactor``: masks a run record and any text with the rules and the values it learned."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cfgtrack.redact import patterns as p
from cfgtrack.redact.patterns import MASK
from cfgtrack.redact.rules import (
    ENV_REFERENCE,
    FLAG,
    KEY_REFERENCE,
    LITERALS,
    MIN_LEARNED_LENGTH,
    OVERRIDE,
    SHORT_TEXT,
    KeyRule,
    is_mask,
    is_reference,
    maskable,
)
from cfgtrack.redact.scan import line_spans, mask_key_blocks
from cfgtrack.redact.tree import TreeWalk


def _token_markers() -> dict[str, tuple[re.Pattern[str], ...]]:
    """Marker -> the token patterns a line holding it goes through. A marker that holds a
    shorter one is left out and its patterns go with the shorter (``sk`` covers ``sk-`` and
    ``sk_live_``): each marker costs one scan of a long text."""
    wanted: dict[str, list[re.Pattern[str]]] = {}
    for markers, pattern in p.TOKEN_PATTERNS.items():
        for marker in markers:
            wanted.setdefault(marker, []).append(pattern)
    kept: dict[str, list[re.Pattern[str]]] = {}
    for marker in sorted(wanted, key=len):
        shorter = next((known for known in kept if known in marker), marker)
        kept.setdefault(shorter, []).extend(wanted[marker])
    return {marker: tuple(dict.fromkeys(found)) for marker, found in kept.items()}


_TOKEN_FAMILIES = {f"token:{marker}": found for marker, found in _token_markers().items()}
_VALUE_MARKERS = (
    ("://", "url"),
    *((marker, "aws") for marker in p.AWS_MARKERS),
    *((family.removeprefix("token:"), family) for family in _TOKEN_FAMILIES),
    ("-u", "cli"),  # also in ``--user``
)
_VALUE_MARKER = re.compile("|".join(re.escape(marker) for marker, _ in _VALUE_MARKERS))
_EVERY_FAMILY = frozenset({"url", "aws", "key", "cli", *_TOKEN_FAMILIES})


class Redactor:
    """Masks secrets in config trees, override strings, free text and whole run records.

    With a ``digest_key`` every mask carries the key's id and the keyed digest of what it hides
    (``***REDACTED:0a1b2c3d:1a2b3c4d5e6f***``): equal secrets get equal masks and different
    ones different masks, so masked values still compare (``redact.masks``), and the digest
    tells nothing without the key.
    """

    def __init__(
        self, extra_key_words: Iterable[str] = (), digest_key: bytes | None = None
    ) -> None:
        self.keys = KeyRule(extra_key_words)
        self.digest_key = digest_key
        self.learned: dict[str, str] = {}
        self._longest_first: list[str] = []
        self._markers = (*((marker, "key") for marker in self.keys.markers), *_VALUE_MARKERS)
        self._family = dict(self._markers)
        self._any_marker = re.compile("|".join(re.escape(marker) for marker, _ in self._markers))
        self._value_marker = _VALUE_MARKER

    def fresh(self) -> Redactor:
        """A redactor with the same words and key that has learned nothing yet."""
        fresh = Redactor(digest_key=self.digest_key)
        fresh.keys, fresh._markers = self.keys, self._markers
        fresh._family, fresh._any_marker = self._family, self._any_marker
        fresh._value_marker = self._value_marker
        return fresh

    @property
    def key_id(self) -> str:
        """Names the digest key (not the key), in every mask: masks made under another id do
        not compare."""
        if self.digest_key is None:
            return "no-key"
        return hashlib.sha256(b"cfgtrack-key-id\0" + self.digest_key).hexdigest()[: p.KEY_ID_LENGTH]

    @property
    def mask_scheme(self) -> str:
        """What the masks this redactor writes look like (their form and key id): a cache of
        masked values is only reused under the same scheme."""
        return f"masks/2:{self.key_id}"

    def masked(self, value: Any) -> str:
        """The mask of one value: with its keyed digest when the redactor has a key."""
        if isinstance(value, str) and is_mask(value):
            return value
        if self.digest_key is None:
            return MASK
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        digest = hmac.new(self.digest_key, text.encode("utf-8", "surrogatepass"), "sha256")
        return f"***REDACTED:{self.key_id}:{digest.hexdigest()[: p.DIGEST_LENGTH]}***"

    # -- what has been masked by key is hunted everywhere else ---------------------------------
    def learn(self, value: Any) -> None:
        text = value if isinstance(value, str) else str(value)
        if len(text) >= MIN_LEARNED_LENGTH and not is_mask(text) and text not in self.learned:
            self.learned[text] = self.masked(value)
            self._longest_first = sorted(self.learned, key=len, reverse=True)

    def name(self, key: str) -> str:
        """A mapping key or flat key path: masked where a value rule finds a secret in it (a
        token used as a name); key words in it are what it is for, not a secret."""
        if not self._value_marker.search(key.lower()):
            return key
        return self.text(key)

    def may_hold_secret(self, text: str) -> bool:
        """False when no rule can match anything in ``text`` (one cheap scan)."""
        return any(value in text for value in self.learned) or bool(
            self._any_marker.search(text.lower())
        )

    def _mask(self, value: Any, *, keep_references: bool = False) -> Any:
        if not maskable(value) or (keep_references and is_reference(value)):
            return value
        self.learn(value)
        return self.masked(value)

    # -- strings -------------------------------------------------------------------------------
    def text(self, text: str, *, aws_context: bool = False) -> str:
        """Free text (a patch, a traceback, a message) with every secret-looking part masked.

        Only the lines that hold a marker (a key word, a token prefix, ``://``) go through the
        patterns that marker calls for, so a 10 MB patch costs a few plain substring scans.
        """
        if not text:
            return text
        text = mask_key_blocks(text, self.masked)
        for value in self._longest_first:
            if value in text:
                text = text.replace(value, self.learned[value])
        if aws_context:
            spans = [(0, len(text), {*_EVERY_FAMILY, "aws-context"})]
        elif len(text) <= SHORT_TEXT:
            found = {self._family[m[0]] for m in self._any_marker.finditer(text.lower())}
            spans = [(0, len(text), found)] if found else []
        else:
            spans = line_spans(text, text.lower(), self._markers)
        pieces, done = [], 0
        for start, end, families in spans:
            pieces += [text[done:start], self._line(text[start:end], families)]
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def _line(self, line: str, families: set[str]) -> str:
        """One line through the patterns its markers call for."""
        if "url" in families and "@" in line:
            line = p.URL_PASSWORD.sub(self._mask_group, line)
            line = p.URL_USER_TOKEN.sub(self._mask_group, line)
        tokens = (found for family in families for found in _TOKEN_FAMILIES.get(family, ()))
        for pattern in dict.fromkeys(tokens):
            line = pattern.sub(lambda m: self.masked(m[0]), line)
        if ("aws" in families and p.AWS_KEY_ID.search(line)) or "aws-context" in families:
            line = p.AWS_KEY_ID.sub(lambda m: self.masked(m[0]), line)
            line = p.AWS_SECRET.sub(self._mask_aws_secret, line)
        if "cli" in families:
            line = p.CLI_USER.sub(self._mask_value, line)
        if "key" in families:  # each pattern only where its separator is
            if "machine" in line or "login" in line:
                line = p.NETRC.sub(self._mask_value, line)
            if "=" in line:
                line = p.ASSIGN_EQUALS.sub(self._mask_assignment, line)
            if ":" in line:
                line = p.ASSIGN_COLON.sub(self._mask_assignment, line)
            if "-" in line:
                line = p.FLAG_VALUE.sub(self._mask_assignment, line)
        return line

    def _mask_group(self, match: re.Match[str]) -> str:
        return match["head"] + self.masked(match["value"])

    def _mask_value(self, match: re.Match[str]) -> str:
        start, end = match.start("value") - match.start(), match.end("value") - match.start()
        return match[0][:start] + self.masked(match["value"]) + match[0][end:]

    def _mask_aws_secret(self, match: re.Match[str]) -> str:
        candidate = match[0]
        mixed_case = any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
        return self.masked(candidate) if mixed_case else candidate

    def _mask_assignment(self, match: re.Match[str]) -> str:
        value = match["value"]
        quote = value[:1] if value[:1] in "\"'" and len(value) >= 2 else ""
        inner = value[1:-1] if quote else value
        if not self.keys.is_secret(match["key"]) or not self._maskable_text(inner):
            return match[0]
        start = match.start("value") - match.start()
        return match[0][:start] + quote + self.masked(inner) + quote

    @staticmethod
    def _maskable_text(value: str) -> bool:
        stripped = value.strip()
        return (
            stripped.lower() not in LITERALS
            and not is_mask(stripped)
            and not is_reference(stripped)
        )

    def string(self, value: str, *, aws_context: bool = False) -> str:
        """A string value or a command-line argument: an override ``key=value`` is masked by its
        key (``db.password=hunter2`` -> ``db.password=***REDACTED***``), anything else as text."""
        match = OVERRIDE.match(value)
        if match and self.keys.is_secret(match["key"].lstrip("+~-")):
            if self._maskable_text(match["value"]):
                self.learn(match["value"])
                return f"{match['key']}={self.masked(match['value'])}"
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
        walker = TreeWalk(self, keys, keep_references, secret_paths)
        return walker.node(tree, (), False, False)

    def _learn_tree(self, tree: Any, secret_paths: frozenset[str] = frozenset()) -> None:
        """Learn the values a key rule masks in ``tree`` without masking anything yet."""
        walker = TreeWalk(self, True, True, secret_paths, learn_only=True)
        walker.node(tree, (), False, False)

    def learn_config(self, captured: Mapping[str, Any]) -> frozenset[str]:
        """Learn every value a key rule masks in a captured config, masking nothing; returns
        the resolved leaves whose unresolved text refers to a secret."""
        secret_paths = self.referring_to_secrets(captured.get("unresolved"))
        self._learn_tree(captured.get("resolved"), secret_paths)
        self._learn_tree([captured.get("unresolved"), captured.get("hydra")])
        for name in _ARGUMENT_LISTS:
            self.arguments(captured.get(name) or [])
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
                result[name] = self.arguments(value or [])
            elif name != "hash":
                result[name] = self.tree(value, keys=False)
        return result

    def referring_to_secrets(self, unresolved: Any) -> frozenset[str]:
        """Flat keys of an unresolved tree whose text refers to a secret (``${oc.env:API_KEY}``,
        ``${db.password}``): what they resolve to is masked whatever it looks like."""
        from cfgtrack.config.flatten import flatten

        if not isinstance(unresolved, Mapping):
            return frozenset()
        found = set()
        for path, value in flatten(unresolved).items():
            texts = value if isinstance(value, list) else [value]
            for text in (item for item in texts if isinstance(item, str)):
                names = [m["name"] for m in ENV_REFERENCE.finditer(text)]
                names += [m["path"] for m in KEY_REFERENCE.finditer(text)]
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

    def secret_flags(self, items: Sequence[Any]) -> set[int]:
        """Positions of list items that are the value of a secret flag before them
        (``["--db-password", "x"]``)."""
        found = set()
        for index, item in enumerate(items[:-1]):
            flag = FLAG.match(item) if isinstance(item, str) else None
            if flag and self.keys.is_secret(flag["key"]):
                found.add(index + 1)
        return found

    def arguments(self, items: Iterable[Any]) -> list[str]:
        """A command line or override list: each item by its key, and the value after a
        secret flag whole."""
        listed = [str(item) for item in items]
        after_flag = self.secret_flags(listed)
        for index in after_flag:
            self.learn(listed[index])
        return [
            self._mask(item) if index in after_flag else self.string(item)
            for index, item in enumerate(listed)
        ]

    def flat(
        self, values: Mapping[str, Any], secret_paths: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """A flat config (dotted key -> value, as verbs compare them) masked as a recorded
        run's config is: by key path, by value, every value masked by key found again in the
        other values; ``secret_paths`` (``referring_to_secrets``) are masked whole. Masks carry
        digests, so a composed config and a run still compare."""
        secret = {key for key in values if key in secret_paths or self.keys.is_secret(key)}
        for key in secret:
            value = values[key]
            for item in value if isinstance(value, list) else [value]:
                if maskable(item) and not is_reference(item):
                    self.learn(item)
        return {
            self.name(key): self._flat_value(value, key in secret) for key, value in values.items()
        }

    def _flat_value(self, value: Any, secret: bool) -> Any:
        if secret:
            return _each(value, self._mask_item)
        if not isinstance(value, list):
            return self._value_rules(value)
        after_flag = self.secret_flags(value)
        aws = any(isinstance(item, str) and p.AWS_KEY_ID.search(item) for item in value)
        return [
            self._mask_item(item)
            if index in after_flag
            else self.string(item, aws_context=aws)
            if isinstance(item, str)
            else item
            for index, item in enumerate(value)
        ]

    def _mask_item(self, item: Any) -> Any:
        return self._mask(item, keep_references=True)

    def _value_rules(self, item: Any) -> Any:
        return self.string(item) if isinstance(item, str) else item

    def error(self, error: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A run's error (type, message, traceback) with its secrets masked."""
        return None if error is None else self.tree(error, keys=False)


_ARGUMENT_LISTS = ("overrides", "hydra_overrides", "command")


def _each(value: Any, mask: Any) -> Any:
    """``mask`` applied to a value, or to each item of a list value."""
    return [mask(item) for item in value] if isinstance(value, list) else mask(value)
