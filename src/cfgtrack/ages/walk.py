"""When did each parameter's value last change? Per-key timelines from the config's git history.

For one composition (primary config + env + overrides) cfgtrack walks the first-parent history of
a revision. At each commit whose config folder changed (its git tree id), the config is composed
as it was then, straight from git objects, and each key gets a change wherever its value differs
from the previous composable commit, or where it first appears. So only values count: reformats,
comments, key order, defaults-list spelling and keys moved between files of one composition leave
ages alone, and a renamed primary config or config folder is followed (git rename detection).
Commits where the config does not compose are skipped and counted. Uncommitted edits in the work
tree count as a change "now".

Speed: a commit that did not change the folder's tree costs nothing; composed configs are cached
by tree id (history_cache); a commit that changed only files the composition never read reuses
the previous result; long cold walks compose in parallel worker processes; and a checkpoint of the
finished timeline makes a re-run after one new commit compose one config.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cfgtrack.ages.cache import HistoryCache, cache_key
from cfgtrack.ages.locations import Location, track_locations
from cfgtrack.ages.model import CONFIG_SUFFIX, UNCOMMITTED_SUBJECT, Composition, History, Skipped
from cfgtrack.ages.parallel import (
    BATCH_SIZE,
    PARALLEL_MIN_COMPOSES,
    Batches,
    Job,
    RecordingFiles,
    compose_payload,
    default_workers,
    mask_payload,
    worker_pool,
)
from cfgtrack.ages.timeline import (
    DAMAGED_CHECKPOINT,
    Fingerprint,
    Timeline,
    checkpoint_key,
    restore_checkpoint,
    resume_points,
    save_checkpoint,
    yaml_names,
)
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.objects import (
    CommitInfo,
    config_value,
    first_parent_log,
    folder_is_dirty,
    folder_tree_id,
    is_shallow,
    objects_for,
    resolve_commit,
)
from cfgtrack.progress import ProgressCallback
from cfgtrack.redact import Redactor


@dataclass(frozen=True)
class _Step:
    index: int
    timeline: Timeline
    location: Location


class _Walk:
    """One walk over a first-parent history for several compositions at once."""

    def __init__(
        self,
        repo_root: Path,
        log: list[CommitInfo],
        cache: HistoryCache | None,
        workers: int | None,
        on_progress: ProgressCallback | None,
        redactor: Redactor,
        version_base: str | None = None,
        schemas: tuple[str, tuple[str, ...]] = ("", ()),
    ) -> None:
        self.redactor = redactor
        self.repo_root = repo_root
        self.version_base = version_base
        self.schemas = schemas
        self.objects = objects_for(repo_root)
        self.log = log
        self.cache = cache
        self.workers = default_workers() if workers is None else workers
        self.on_progress = on_progress
        self.pool: Executor | None = None
        self.batches: Batches | None = None

    def _key(self, step: _Step) -> str:
        location, composition = step.location, step.timeline.history.composition
        return cache_key(
            "composed",
            location.tree,
            *location.search,
            location.config_name,
            self.version_base or "",
            ",".join(self.schemas[1]),
            *composition.hydra_overrides(),
        )

    def run(self, timelines: list[Timeline], locations: list[Location]) -> None:
        steps = self._plan(timelines, locations)
        misses = len(steps)
        if self.cache is not None and steps:
            misses -= len(self.cache.known([self._key(step) for step in steps]))
        if self.workers > 1 and misses >= PARALLEL_MIN_COMPOSES:
            self.pool = worker_pool(self.workers)
            self.batches = Batches(self.pool, BATCH_SIZE)
        try:
            if self.on_progress is not None:
                self.on_progress(0, len(steps))
            for done, (step, payload) in enumerate(self._outcomes(steps), start=1):
                self._apply(step, payload)
                if self.on_progress is not None:
                    self.on_progress(done, len(steps))
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
            if self.cache is not None:
                self.cache.flush()

    @staticmethod
    def _plan(timelines: list[Timeline], locations: list[Location]) -> list[_Step]:
        """Each (commit, composition) whose config folder changed, oldest commit first."""
        steps = []
        previous = [timeline.last_location for timeline in timelines]
        for index in range(len(locations) - 1, -1, -1):
            for number, timeline in enumerate(timelines):
                if index < timeline.start and locations[index] != previous[number]:
                    steps.append(_Step(index, timeline, locations[index]))
                    previous[number] = locations[index]
        return steps

    def _outcomes(self, steps: list[_Step]) -> Iterator[tuple[_Step, dict[str, Any]]]:
        """Each step's composed payload, in order; parallel work runs a bounded window ahead."""
        window: deque[tuple[_Step, Future[dict[str, Any]], bool]] = deque()
        ahead = 2 * BATCH_SIZE * self.workers if self.pool is not None else 0
        for step in steps:
            window.append((step, *self._submit(step)))
            while window and (len(window) > ahead or window[0][1].done()):
                if self.batches is not None and not window[0][1].done():
                    self.batches.flush()  # about to wait for it: make sure it was sent
                yield self._finish(*window.popleft())
        if self.batches is not None:
            self.batches.flush()
        while window:
            yield self._finish(*window.popleft())

    def _known(self, step: _Step, listing: Mapping[str, str]) -> tuple[dict[str, Any], bool] | None:
        """A payload found without composing, and whether the cache lacks it."""
        location, timeline = step.location, step.timeline
        env_file = timeline.history.composition.env_file
        if env_file and env_file not in listing:
            return {"absent": True}, False
        if self.cache is not None and (cached := self.cache.composed(self._key(step))):
            return cached, False
        fingerprint, last = timeline.last_fingerprint, timeline.last_location
        same_search = last is not None and last.search == location.search
        if (
            fingerprint is not None
            and same_search
            and fingerprint.matches(location.config_name, listing)
        ):
            return timeline.last_payload or {}, True
        return None

    def _submit(self, step: _Step) -> tuple[Future[dict[str, Any]], bool]:
        """The step's payload (composed now, in a worker, or known) and whether to cache it."""
        location, timeline = step.location, step.timeline
        future: Future[dict[str, Any]] = Future()
        if location.missing:  # the folder or primary is gone at this commit
            where = f"{location.folder or '.'}@{self.log[step.index].sha[:10]}"
            future.set_result({"error": f"{where}: no config {location.config_name!r} here"})
            return future, False
        listing = self.objects.blob_ids(location.tree)
        known = self._known(step, listing)
        if known is not None:
            future.set_result(known[0])
            return future, known[1]
        names = sorted(yaml_names(listing))
        commit = self.log[step.index].sha
        read = lambda name: self.objects.blob(listing[name])  # noqa: E731
        job = Job(
            location.config_name,
            timeline.history.composition.hydra_overrides(),
            f"{location.folder or '.'}@{commit[:10]}",
            self.version_base,
            self._search_folders(commit, RecordingFiles(names, read), location.config_name),
            self.schemas,
            timeline.history.composition.env_group,
        )
        timeline.history.composed += 1
        if self.batches is not None:
            return self.batches.add(({name: read(name) for name in names}, job)), True
        future.set_result(compose_payload(RecordingFiles(names, read), job))
        return future, True

    def _search_folders(
        self, commit: str, files: Mapping[str, bytes], config_name: str
    ) -> dict[str, dict[str, bytes]]:
        """The primary's relative ``file://`` search paths, read from the same commit."""
        from cfgtrack.config.compose import search_folder_entries

        found = {}
        for entry in search_folder_entries(files, config_name):
            tree = folder_tree_id(self.repo_root, commit, entry.removeprefix("file://"))
            if tree is not None:
                found[entry] = self.objects.files(tree)
        return found

    def _finish(
        self, step: _Step, future: Future[dict[str, Any]], fresh: bool
    ) -> tuple[_Step, dict[str, Any]]:
        payload = future.result()
        if fresh:
            payload = mask_payload(payload, self.redactor.fresh())
        if fresh and self.cache is not None:
            self.cache.store_composed(self._key(step), payload)
        return step, payload

    def _apply(self, step: _Step, payload: dict[str, Any]) -> None:
        timeline, commit = step.timeline, self.log[step.index]
        timeline.last_location = step.location
        if payload.get("absent"):
            return
        if "error" in payload:
            timeline.history.failing = Skipped(commit, payload["error"])
            timeline.history.skipped.append(timeline.history.failing)
        else:
            timeline.history.failing = None
            timeline.record(commit, payload["values"], set(payload["unresolved"]))
        timeline.last_payload = timeline.last_fingerprint = None
        if not step.location.missing:
            listing = self.objects.blob_ids(step.location.tree)
            timeline.last_payload = payload
            timeline.last_fingerprint = Fingerprint(
                step.location.config_name,
                yaml_names(listing),
                {name: listing[name] for name in payload["accessed"]},
            )


# --- walking ------------------------------------------------------------------------------------


def walk(
    repo_root: Path,
    folder: str,
    config_name: str,
    compositions: Sequence[Composition],
    *,
    rev: str = "HEAD",
    since: datetime | None = None,
    worktree: bool = True,
    cache: HistoryCache | None = None,
    workers: int | None = None,
    on_progress: ProgressCallback | None = None,
    version_base: str | None = None,
    schemas: tuple[str, tuple[str, ...]] = ("", ()),
    until: datetime | None = None,
    follow_renames: bool = True,
    redactor: Redactor | None = None,
) -> list[History]:
    """The history of every key of each composition along the first-parent chain of ``rev``.

    ``folder`` is the config folder relative to ``repo_root`` and ``config_name`` the primary
    config, both as they are at ``rev``; earlier locations are found by following renames.
    ``since`` cuts the walk (ages become lower bounds); ``until`` (``--as-of``) starts it at the
    last commit on or before that moment (committer dates); ``worktree`` adds uncommitted edits;
    ``version_base`` picks the era of Hydra's rules for every commit (None: current);
    ``schemas`` (project root, module names) are imported before composing, in every process;
    ``follow_renames``: a renamed subtree's keys keep their ages (see ``renames``).
    Values are masked by ``redactor`` as they are composed, before they are cached or compared:
    a secret's mask carries its digest, so its age is found like any other value's.
    """
    redactor = redactor or Redactor()
    head = resolve_commit(repo_root, rev)
    log = first_parent_log(repo_root, head)
    if until is not None:
        log = log[next((i for i, c in enumerate(log) if c.date <= until), len(log)) :]
        if not log:
            raise CfgtrackError(
                f"--as-of {until.isoformat()}: no commit of {rev} is on or before it "
                "(committer dates, UTC)"
            )
        head = log[0].sha
    before = None
    if since is not None:
        kept = next((i for i, c in enumerate(log) if c.date < since), len(log))
        log, before = log[:kept], log[kept] if kept < len(log) else None
    shallow = is_shallow(repo_root)
    locations = track_locations(repo_root, log, folder, config_name)
    cut = _cut(repo_root, since, before, locations, len(log), shallow)
    keys = [checkpoint_key(folder, config_name, c, version_base, schemas[1]) for c in compositions]
    resumable = cache is not None and since is None
    points = resume_points(cache, log, keys, shallow) if resumable else [None] * len(keys)
    timelines = []
    for composition, point in zip(compositions, points, strict=True):
        history = History(composition, head, walked=len(locations), cut=cut)
        timeline = Timeline(history, start=len(locations), follow_renames=follow_renames)
        if point is not None and point[0] < len(locations):
            index, saved = point
            try:
                if saved["location"] and Location.restored(saved["location"]) == locations[index]:
                    restore_checkpoint(timeline, saved, index)
            except DAMAGED_CHECKPOINT:  # walk this composition from the start
                history = History(composition, head, walked=len(locations), cut=cut)
                timeline = Timeline(history, start=len(locations))
        timelines.append(timeline)
    walker = _Walk(repo_root, log, cache, workers, on_progress, redactor, version_base, schemas)
    walker.run(timelines, locations)
    if resumable:
        for timeline, key in zip(timelines, keys, strict=True):
            if timeline.start > 0:  # else the saved checkpoint already ends at ``head``
                cache.store_checkpoint(key, head, save_checkpoint(timeline, shallow))
    if worktree:
        here = locations[0] if locations else Location(folder, config_name, "")
        _add_uncommitted(
            repo_root, here.folder, here.config_name, timelines, version_base, redactor
        )
    return [timeline.history for timeline in timelines]


def _cut(
    repo_root: Path,
    since: datetime | None,
    before: CommitInfo | None,
    locations: list[Location],
    walked: int,
    shallow: bool,
) -> str | None:
    """Why the ages are lower bounds, naming the real cause; None when they are exact."""
    if since is not None and before is not None:
        day = since.date().isoformat()
        oldest = locations[-1] if locations else None
        unchanged = len(set(locations)) <= 1 and (
            oldest is None or oldest.tree == folder_tree_id(repo_root, before.sha, oldest.folder)
        )
        if unchanged:
            return f"--since {day}: no config commit since then; every age is older"
        if len(locations) == walked:
            return f"--since {day}: older commits were not read"
        return None
    if shallow and walked and len(locations) == walked:
        return "shallow clone: older commits are not in this clone"
    return None


def _add_uncommitted(
    repo_root: Path,
    folder: str,
    config_name: str,
    timelines: list[Timeline],
    version_base: str | None,
    redactor: Redactor,
) -> None:
    """Edits not yet committed count as a change now, marked uncommitted."""
    path = repo_root / folder
    if not (path / f"{config_name}{CONFIG_SUFFIX}").is_file() or not folder_is_dirty(
        repo_root, folder
    ):
        return
    from cfgtrack.config.compose import compose_dir

    now = CommitInfo(
        sha="",
        date=datetime.now(timezone.utc),
        author=config_value(repo_root, "user.name") or "",
        email=config_value(repo_root, "user.email") or "",
        subject=UNCOMMITTED_SUBJECT,
        uncommitted=True,
    )
    for timeline in timelines:
        composition = timeline.history.composition
        if composition.env_file and not (path / composition.env_file).is_file():
            continue
        try:
            composed = compose_dir(
                path,
                config_name,
                composition.hydra_overrides(),
                version_base=version_base,
                env_group=composition.env_group,
            )
        except CfgtrackError as exc:
            timeline.history.failing = Skipped(now, redactor.text(str(exc)))
            timeline.history.skipped.append(timeline.history.failing)
            continue
        timeline.history.failing = None
        timeline.record(
            now,
            redactor.fresh().flat(
                composed.values, redactor.referring_to_secrets(composed.references)
            ),
            set(composed.unresolved),
        )


# --- entry points for the commands --------------------------------------------------------------
