"""Compare two configs key by key and explain every difference.

The default path is one pass over two flat dicts, with a cheap check for the common case (same
type, equal value), so comparing 100,000 leaves costs little more than ``dict`` comparison.
deepdiff is imported only for ``ignore_order``, to pair list items that changed and moved
(``compare.align``); what counts as the same value is ``config.values``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import translate
from pathlib import Path
from typing import Any

from cfgtrack.compare.align import aligned
from cfgtrack.compare.documented import (
    DEFAULT_FILE_NAME,
    DocumentedDifference,
    applicable,
    explain,
    load_documented,
)
from cfgtrack.compare.sources import Config, is_file, load_config
from cfgtrack.config.flatten import top_level
from cfgtrack.config.values import (
    ADDED,
    CHANGED,
    EQUAL,
    compare_values,
)
from cfgtrack.errors import CfgtrackError
from cfgtrack.redact.masks import SecretComparison, compare_secret, holds_mask
from cfgtrack.redact.patterns import MASK_START
from cfgtrack.redact.redactor import Redactor
from cfgtrack.settings import Settings, load_settings

_ABSENT: Any = object()


@dataclass(slots=True)
class Side:
    """A key's value on one side; ``age`` is how long it has had it (filled by history).

    Not frozen: the parameter-history code fills ``age`` in place (and frozen dataclasses cost
    several times more to create, which shows when 1,000 keys differ).
    """

    present: bool
    value: Any = None
    unresolved: bool = False
    age: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "value": self.value,
            "type": type(self.value).__name__ if self.present else None,
            "unresolved": self.unresolved,
            "age": self.age,
        }


@dataclass(slots=True)
class Change:
    """One key compared: its kind and, when documented, the entry that explains it; for a
    value that holds secrets, how they compare (``secret``: same, changed, not comparable)."""

    key: str
    kind: str
    left: Side
    right: Side
    documented_by: DocumentedDifference | None = None
    secret: SecretComparison | None = None

    @property
    def section(self) -> str:
        return top_level(self.key)

    @property
    def documented(self) -> bool:
        return self.documented_by is not None

    @property
    def reason(self) -> str | None:
        return self.documented_by.reason if self.documented_by else None

    @property
    def kind_text(self) -> str:
        """The kind as every format prints it: ``secret: changed`` for a secret."""
        kind = self.kind.replace("_", " ")
        return self.secret.kind_text(kind) if self.secret else kind

    def to_dict(self) -> dict[str, Any]:
        entry = self.documented_by
        return {
            "key": self.key,
            "section": self.section,
            "kind": self.kind,
            "documented": self.documented,
            "reason": self.reason,
            "documented_at": entry.where if entry else None,
            "secret": self.secret.verdict if self.secret else None,
            "secret_reason": self.secret.reason if self.secret else None,
            "left": self.left.to_dict(),
            "right": self.right.to_dict(),
        }


@dataclass(frozen=True)
class DiffOptions:
    rtol: float = 0.0
    ignore_order: bool = False
    exclude: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffResult:
    """Every difference between two configs, split into documented and undocumented.

    ``changes`` holds the differences grouped by top-level section; ``equal`` the equal keys
    when asked for (``include_equal``), else only their count in ``equal_count``.
    """

    left: Config
    right: Config
    changes: list[Change]
    equal_count: int
    equal: list[Change] = field(default_factory=list)
    unused: list[DocumentedDifference] = field(default_factory=list)
    documented_file: str | None = None
    options: DiffOptions = field(default_factory=DiffOptions)

    @property
    def undocumented(self) -> list[Change]:
        return [change for change in self.changes if not change.documented]

    @property
    def documented(self) -> list[Change]:
        return [change for change in self.changes if change.documented]

    @property
    def exit_code(self) -> int:
        """0 when every difference is documented, 1 otherwise (the CI gate)."""
        return 1 if self.undocumented else 0


def diff_sources(
    a: str | Config,
    b: str | Config,
    options: DiffOptions | None = None,
    *,
    documented: str | Path | bool | None = None,
    include_equal: bool = False,
    config_dir: str | Path | None = None,
    config_name: str | None = None,
    settings: Settings | None = None,
) -> DiffResult:
    """Compare two configs given as specs (``staging``, ``prod@v1.2``, ``run:<id>``, a file) or
    loaded; ``options`` say how values compare and which overrides composed sides get.

    ``documented``: the documented-differences file (default ``<config dir>/cfgtrack-diff.yaml``
    when it exists; ``False`` for none).
    """
    options = options or DiffOptions()
    rtol, overrides = options.rtol, options.overrides
    if rtol < 0 or math.isnan(rtol):
        raise CfgtrackError(f"--rtol must be a number >= 0, got {rtol}")
    settings = settings or load_settings()
    common = {"overrides": overrides, "config_dir": config_dir, "config_name": config_name}
    left = a if isinstance(a, Config) else load_config(a, settings=settings, **common)
    right = b if isinstance(b, Config) else load_config(b, settings=settings, **common)
    entries: list[DocumentedDifference] = []
    documented_file = None
    if documented is not False:
        folder = Path(config_dir).resolve() if config_dir else settings.config_dir
        path = Path(documented) if isinstance(documented, (str, Path)) else None
        if path is not None and not is_file(path):
            raise CfgtrackError(f"no documented-differences file {path}; check --documented")
        path = path or folder / DEFAULT_FILE_NAME
        if is_file(path):
            entries = applicable(load_documented(path), _name(left), _name(right))
            documented_file = str(path)
    from cfgtrack.redact.key import project_redactor

    result = compare(
        left,
        right,
        options=options,
        entries=entries,
        include_equal=include_equal,
        redactor=project_redactor(settings),
    )
    return replace(result, documented_file=documented_file)


def _name(config: Config) -> str:
    """The name a documented pair uses for a side: its env, else the spec without @rev."""
    return config.env or config.spec.name


def compare(
    left: Config,
    right: Config,
    *,
    options: DiffOptions | None = None,
    entries: Sequence[DocumentedDifference] = (),
    include_equal: bool = False,
    redactor: Redactor | None = None,
) -> DiffResult:
    """Compare two loaded configs; ``entries`` are the documented differences that apply;
    ``redactor`` (the project's) masks a clear value that faces a mask, to compare digests."""
    options = options or DiffOptions()
    a_values, b_values = left.values, right.values
    a_unresolved, b_unresolved = left.unresolved, right.unresolved
    if options.ignore_order:
        (a_values, a_unresolved), (b_values, b_unresolved) = aligned(left, right)
    if options.exclude:
        excluded = re.compile("|".join(f"(?:{translate(glob)})" for glob in options.exclude))
        a_values = {k: v for k, v in a_values.items() if not excluded.match(k)}
        b_values = {k: v for k, v in b_values.items() if not excluded.match(k)}
    kinds = compare_values(a_values, b_values, rtol=options.rtol, ignore_order=options.ignore_order)
    secrets = compare_secrets(a_values, b_values, kinds, redactor or Redactor())
    entries = list(entries)

    def side(index: int, values: Mapping[str, Any], unresolved: frozenset[str], key: str) -> Side:
        value = values.get(key, _ABSENT)
        if value is _ABSENT:
            return Side(present=False)
        if key in secrets:  # the values to show: a clear value facing a mask is shown masked
            value = (secrets[key].left, secrets[key].right)[index]
        return Side(present=True, value=value, unresolved=key in unresolved)

    def change(key: str, kind: str, documented_by: DocumentedDifference | None) -> Change:
        return Change(
            key=key,
            kind=kind,
            left=side(0, a_values, a_unresolved, key),
            right=side(1, b_values, b_unresolved, key),
            documented_by=documented_by,
            secret=secrets.get(key),
        )

    changes = [change(key, kind, explain(key, entries)) for key, kind in kinds.items()]
    used = {id(change.documented_by) for change in changes}
    equal = []
    if include_equal:
        equal = [change(key, EQUAL, None) for key in a_values if key not in kinds]
    return DiffResult(
        left=left,
        right=right,
        changes=sorted_by_section(changes),
        equal_count=len(a_values) - sum(1 for kind in kinds.values() if kind != ADDED),
        equal=sorted_by_section(equal),
        unused=[entry for entry in entries if id(entry) not in used],
        options=options,
    )


def compare_secrets(
    left: Mapping[str, Any], right: Mapping[str, Any], kinds: dict[str, str], redactor: Redactor
) -> dict[str, SecretComparison]:
    """Keys present on both sides whose values hold masks, compared by digest (``redact.masks``);
    ``kinds`` follows: a secret that is the same is no difference, and one that may differ (a
    mask against a mask of another key, or two masks without digests) is one."""
    found = {}
    # one tight pass picks the values that hold a mask (most values are no string): the loop
    # over every equal key is the whole cost on large configs
    text, items = str, list
    masked = [
        key
        for key, a in left.items()
        if ((kind := a.__class__) is text and MASK_START in a) or (kind is items and holds_mask(a))
    ]
    for key in dict.fromkeys([*kinds, *masked]):
        a, b = left.get(key, _ABSENT), right.get(key, _ABSENT)
        if a is _ABSENT:
            continue
        if b is _ABSENT or (comparison := compare_secret(a, b, redactor)) is None:
            continue
        found[key] = comparison
        if comparison.equal:
            kinds.pop(key, None)
        else:
            kinds[key] = CHANGED
    return found


def sorted_by_section(changes: list[Change]) -> list[Change]:
    """Changes grouped by top-level section, sections in order of first appearance (stable)."""
    rank: dict[str, int] = {}
    for change in changes:
        rank.setdefault(change.section, len(rank))
    return sorted(changes, key=lambda change: rank[change.section])
