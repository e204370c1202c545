"""``diff``: two configs compared key by key, with each value's age on request, or two recorded
runs compared in every aspect (config, environment, git, data)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cfgtrack.compare.diff import DiffResult
from cfgtrack.compare.sources import Config
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings
from cfgtrack.verbs.project import configured_settings

if TYPE_CHECKING:
    from cfgtrack.compare.diff import Change
    from cfgtrack.compare.run_diff import RunDiff

Ages = Literal["none", "cached", "walk"]
AGES: tuple[Ages, ...] = ("none", "cached", "walk")


def diff(
    left: str | Config,
    right: str | Config,
    *,
    overrides: Sequence[str] = (),
    rtol: float = 0.0,
    ignore_order: bool = False,
    exclude: Sequence[str] = (),
    documented: str | Path | bool | None = None,
    include_equal: bool = False,
    config_dir: str | Path | None = None,
    config_name: str | None = None,
    ages: Ages = "none",
    what: str | None = None,
    env_group: str | None = None,
    settings: Settings | None = None,
) -> DiffResult | RunDiff:
    """Compare two sources (``staging``, ``prod@v1.2``, ``run:<id>``, a file).

    ``documented``: the documented-differences file (default ``<config dir>/cfgtrack-diff.yaml``
    when it exists; ``False`` for none). ``rtol``: relative tolerance for floats;
    ``ignore_order``: lists as unordered; ``exclude``: globs of keys to leave out.
    ``ages``: ``"cached"`` adds the ages an earlier history walk saved (free), ``"walk"`` reads
    the git history for them. ``what`` (``config,env,git,data``) picks the aspects of a
    ``run:A run:B`` comparison, which then returns a ``RunDiff`` (every aspect by default).
    ``env_group``: the config group env names select (default: the ``env_group`` setting).
    A side may also be an already loaded ``Config`` (``cfgtrack.load_config``).
    """
    from cfgtrack.compare.diff import DiffOptions, diff_sources
    from cfgtrack.compare.run_diff import compare_runs, wanted_aspects

    if ages not in AGES:
        raise CfgtrackError(f"ages: {ages!r} is not one of {', '.join(AGES)}")
    aspects = wanted_aspects(what, _spec_text(left), _spec_text(right))
    if settings is None and env_group is not None:
        settings = configured_settings(None, None, env_group)
    options = DiffOptions(rtol, ignore_order, tuple(exclude), tuple(overrides))
    result = diff_sources(
        left,
        right,
        options,
        documented=documented,
        include_equal=include_equal,
        config_dir=config_dir,
        config_name=config_name,
        settings=settings,
    )
    if ages != "none":
        result = _with_ages(
            result,
            walk=ages == "walk",
            overrides=overrides,
            config_dir=config_dir,
            config_name=config_name,
            env_group=env_group,
        )
    return result if aspects is None else compare_runs(result, aspects)


def _spec_text(side: str | Config) -> str:
    return side.spec.text if isinstance(side, Config) else side


def _with_ages(
    result: DiffResult,
    *,
    walk: bool,
    overrides: Sequence[str],
    config_dir: str | Path | None,
    config_name: str | None,
    env_group: str | None,
) -> DiffResult:
    """``result`` with each env side's values carrying their age.

    Without ``walk`` a project outside git, or one never walked, simply has no ages.
    """
    from cfgtrack.ages.stale import value_ages

    settings = configured_settings(Path(config_dir) if config_dir else None, config_name, env_group)
    now = datetime.now(timezone.utc)
    found: dict[str, dict[str, str]] = {}
    for side, config in (("left", result.left), ("right", result.right)):
        if config.spec.kind != "env":
            continue
        try:
            found[side] = value_ages(config, settings, overrides, walk=walk, now=now)
        except CfgtrackError:
            if walk:
                raise
    if not found:
        return result

    def aged(change: Change) -> Change:
        left = replace(change.left, age=found.get("left", {}).get(change.key))
        right = replace(change.right, age=found.get("right", {}).get(change.key))
        return replace(change, left=left, right=right)

    return replace(
        result,
        changes=[aged(change) for change in result.changes],
        equal=[aged(change) for change in result.equal],
    )
