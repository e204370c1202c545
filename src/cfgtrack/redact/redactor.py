"""``Redactor``: masks a run record and any text with the rules and the values it learned."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cfgtrack.redact.rules import (
    ASSIGN_COLON,
    ASSIGN_EQUALS,
    AWS_KEY_ID,
    AWS_SECRET,
    ENV_REFERENCE,
    EVERY_FAMILY,
    KEY_REFERENCE,
    LITERALS,
    MASK,
    MIN_LEARNED_LENGTH,
    OVERRIDE,
    PRIVATE_KEY,
    SHORT_TEXT,
    TOKEN_PATTERNS,
    URL_PASSWORD,
    VALUE_MARKERS,
    KeyRule,
    is_reference,
    maskable,
)


class Redactor:
    """Masks secrets in config trees, override strings, free text and whole run records."""

    def __init__(self, extra_key_words: Iterable[str] = ()) -> None:
        self.keys = KeyRule(extra_key_words)
        self.learned: set[str] = set()
        self._longest_first: list[str] = []
        self._markers = (*((marker, "key") for marker in self.keys.markers), *VALUE_MARKERS)
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
        if not maskable(value) or (keep_references and is_reference(value)):
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
            text = PRIVATE_KEY.sub(_mask_key_body, text)
        for value in self._longest_first:
            if value in text:
                text = text.replace(value, MASK)
        if aws_context:
            spans = [(0, len(text), {*EVERY_FAMILY, "aws-context"})]
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
            line = URL_PASSWORD.sub(lambda m: m["head"] + MASK, line)
        if "token" in families:
            line = TOKEN_PATTERNS.sub(MASK, line)
        if ("aws" in families and AWS_KEY_ID.search(line)) or "aws-context" in families:
            line = AWS_SECRET.sub(_mask_aws_secret, AWS_KEY_ID.sub(MASK, line))
        if "key" in families:
            line = ASSIGN_EQUALS.sub(self._mask_assignment, line)
            line = ASSIGN_COLON.sub(self._mask_assignment, line)
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
        return stripped.lower() not in LITERALS and stripped != MASK and not is_reference(stripped)

    def string(self, value: str, *, aws_context: bool = False) -> str:
        """A string value or a command-line argument: an override ``key=value`` is masked by its
        key (``db.password=hunter2`` -> ``db.password=***REDACTED***``), anything else as text."""
        match = OVERRIDE.match(value)
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
    return any(isinstance(item, str) and AWS_KEY_ID.search(item) for item in values)


def _line_spans(
    text: str, lowered: str, markers: Iterable[tuple[str, str]]
) -> list[tuple[int, int, set[str]]]:
    """``(start, end, marker families)`` of each line of ``text`` that holds a marker, in order.

    ``markers`` are (lower-case substring, family) pairs, searched in ``lowered``.
    """
    if len(lowered) != len(text):  # lower-casing changed lengths: offsets would not line up
        return [(0, len(text), set(EVERY_FAMILY))]
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
