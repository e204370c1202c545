"""One pass over a config-like tree: which leaves a key, a flag or a value rule masks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cfgtrack.redact import patterns as p

if TYPE_CHECKING:
    from cfgtrack.redact.redactor import Redactor

_SCALARS = frozenset({str, int, float, bool, type(None)})


class TreeWalk:
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
                self.key(key): self.node(
                    child, (*path, str(key)), self._secret(secret, key), near_aws
                )
                for key, child in value.items()
            }
        if isinstance(value, (list, tuple)):
            near_aws = not self.learn_only and _holds_aws_key_id(value)
            after_flag = self.redactor.secret_flags(value)
            return [
                self.node(child, (*path, str(index)), secret or index in after_flag, near_aws)
                for index, child in enumerate(value)
            ]
        return self.leaf(value, path, secret, aws)

    def key(self, key: Any) -> Any:
        """A mapping key that itself looks secret (a token used as a name) is masked too."""
        if self.learn_only or not isinstance(key, str):
            return key
        return self.redactor.name(key)

    def leaf(self, value: Any, path: tuple[str, ...], secret: bool, aws: bool) -> Any:
        if secret and not (path and self.redactor.keys.is_descriptor(path[-1])):
            return self.redactor._mask(value, keep_references=self.keep_references)
        if isinstance(value, str) and not self.learn_only:
            return self.redactor.string(value, aws_context=aws)
        return value

    def _secret(self, inherited: bool, key: Any) -> bool:
        return inherited or (self.keys and self.redactor.keys.segment_is_secret(key))


def _holds_aws_key_id(values: Iterable[Any]) -> bool:
    return any(isinstance(item, str) and p.AWS_KEY_ID.search(item) for item in values)
