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

import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cfgtrack.ages.cache import HistoryCache, cache_key
from cfgtrack.compare.diff import ADDED, REMOVED, compare_values
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.objects import (
    CommitInfo,
    config_value,
    first_parent_log,
    folder_is_dirty,
    is_shallow,
    object_ids,
    object_spec,
    objects_for,
    renames,
    repo_toplevel,
    resolve_commit,
)
from cfgtrack.settings import Settings

UNCOMMITTED_SUBJECT = "uncommitted changes in the work tree"
PARALLEL_MIN_COMPOSES = 32
BATCH_SIZE = 8
PROGRESS_MIN_COMMITS = 50
_CONFIG_SUFFIX = ".yaml"


@dataclass(frozen=True)
class Composition:
    """What is composed at each commit besides the primary config: an env option and overrides."""

    env: str | None = None
    env_group: str = "env"
    overrides: tuple[str, ...] = ()

    def hydra_overrides(self) -> list[str]:
        env = [f"{self.env_group}={self.env}"] if self.env else []
        return [*env, *self.overrides]

    @property
    def env_file(self) -> str | None:
        """The env's option file; before it existed the env had no config to age."""
        return f"{self.env_group}/{self.env}{_CONFIG_SUFFIX}" if self.env else None


@dataclass(frozen=True)
class Change:
    """A key's value as set by one commit (``present=False``: the key was removed there)."""

    commit: CommitInfo
    value: Any
    present: bool = True
    unresolved: bool = False
    first: bool = False  # no value at the previous composable commit


@dataclass(frozen=True)
class Skipped:
    """A commit at which the config did not compose, with the reason."""

    commit: CommitInfo
    error: str


@dataclass
class History:
    """Every change of every key of one composition, oldest first per key."""

    composition: Composition
    head: str
    changes: dict[str, list[Change]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    walked: int = 0
    composed: int = 0
    cut: str | None = None
    oldest: CommitInfo | None = None

    @property
    def env(self) -> str | None:
        return self.composition.env

    def current(self, as_of: datetime | None = None) -> dict[str, Change]:
        """Each key present at ``as_of`` (default: now) with the change that set its value."""
        found: dict[str, Change] = {}
        for key, changes in self.changes.items():
            latest = next(
                (c for c in reversed(changes) if as_of is None or c.commit.date <= as_of), None
            )
            if latest is not None and latest.present:
                found[key] = latest
        return found

    def is_lower_bound(self, change: Change) -> bool:
        """True when the true age may be greater: the key was there before the walk began."""
        return (
            self.cut is not None
            and change.first
            and self.oldest is not None
            and change.commit.sha == self.oldest.sha
        )


def same_value(left: Any, right: Any) -> bool:
    """Equality as ``cfgtrack diff`` sees it: types matter (``1``, ``1.0``, ``"1"`` all differ)."""
    return not compare_values({"": left}, {"": right})


# --- where the config lives at each commit (following renames) ---------------------------------


@dataclass(frozen=True)
class _Location:
    folder: str
    config_name: str
    tree: str


def _primary_path(folder: str, config_name: str) -> str:
    return f"{folder}/{config_name}{_CONFIG_SUFFIX}" if folder else f"{config_name}{_CONFIG_SUFFIX}"


def _renamed_from(
    repo_root: Path, older: str, newer: str, folder: str, config_name: str
) -> tuple[str, str] | None:
    """Where the primary config lived at ``older`` if ``newer`` renamed it or moved its folder."""
    pairs = renames(repo_root, older, newer)
    depth = config_name.count("/") + 1
    for old, new in pairs:
        if new == _primary_path(folder, config_name) and old.endswith(_CONFIG_SUFFIX):
            parts = old[: -len(_CONFIG_SUFFIX)].split("/")
            return "/".join(parts[:-depth]), "/".join(parts[-depth:])
    prefix = f"{folder}/" if folder else ""
    moved: Counter[str] = Counter()
    for old, new in pairs:
        relative = new[len(prefix) :]
        if new.startswith(prefix) and (old == relative or old.endswith(f"/{relative}")):
            moved[old[: len(old) - len(relative)].rstrip("/")] += 1
    for old_folder, _ in moved.most_common():
        if object_ids(repo_root, [object_spec(older, _primary_path(old_folder, config_name))])[0]:
            return old_folder, config_name
    return None


def _track(
    repo_root: Path, log: Sequence[CommitInfo], folder: str, config_name: str
) -> list[_Location]:
    """The config's location at each commit of ``log`` (newest first) until it did not exist."""
    locations: list[_Location] = []
    while len(locations) < len(log):
        rest = log[len(locations) :]
        specs = []
        for commit in rest:
            specs += [
                object_spec(commit.sha, folder),
                object_spec(commit.sha, _primary_path(folder, config_name)),
            ]
        ids = object_ids(repo_root, specs)
        for index in range(len(rest)):
            tree, primary = ids[2 * index], ids[2 * index + 1]
            if tree is None or primary is None:
                break
            locations.append(_Location(folder, config_name, tree))
        if len(locations) in (0, len(log)):
            break
        older, newer = log[len(locations)], log[len(locations) - 1]
        renamed = _renamed_from(repo_root, older.sha, newer.sha, folder, config_name)
        if renamed is None:
            break
        folder, config_name = renamed
    return locations


# --- composing at one commit --------------------------------------------------------------------


class _RecordingFiles(Mapping[str, bytes]):
    """Config files read on demand, remembering which ones the composition read."""

    def __init__(self, names: Sequence[str], read: Callable[[str], bytes]) -> None:
        self._names = list(names)
        self._known = set(self._names)
        self._read = read
        self.accessed: set[str] = set()

    def __getitem__(self, name: str) -> bytes:
        if name not in self._known:
            raise KeyError(name)
        self.accessed.add(name)
        return self._read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _compose_payload(
    files: _RecordingFiles, config_name: str, overrides: Sequence[str], label: str
) -> dict[str, Any]:
    from cfgtrack.config.compose import compose_files

    try:
        composed = compose_files(files, config_name, overrides, label=label)
    except CfgtrackError as exc:
        return {"error": str(exc), "accessed": sorted(files.accessed)}
    return {
        "values": composed.values,
        "unresolved": sorted(composed.unresolved),
        "accessed": sorted(files.accessed),
    }


def _compose_in_worker(
    jobs: list[tuple[dict[str, bytes], str, list[str], str]],
) -> list[dict[str, Any]]:
    """Compose a run of consecutive commits in a worker process (a long cold walk)."""
    return [
        _compose_payload(_RecordingFiles(list(files), files.__getitem__), name, overrides, label)
        for files, name, overrides, label in jobs
    ]


class _Batches:
    """Compose jobs sent to worker processes in runs of consecutive commits.

    A worker composing consecutive commits finds their unchanged files already parsed, and one
    message carries several configs each way.
    """

    def __init__(self, pool: Executor, size: int) -> None:
        self.pool = pool
        self.size = size
        self.jobs: list[tuple[dict[str, bytes], str, list[str], str]] = []
        self.futures: list[Future[dict[str, Any]]] = []

    def add(self, job: tuple[dict[str, bytes], str, list[str], str]) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = Future()
        self.jobs.append(job)
        self.futures.append(future)
        if len(self.jobs) >= self.size:
            self.flush()
        return future

    def flush(self) -> None:
        if not self.jobs:
            return
        futures = self.futures
        batch = self.pool.submit(_compose_in_worker, self.jobs)
        self.jobs, self.futures = [], []

        def deliver(done: Future[list[dict[str, Any]]]) -> None:
            error = done.exception()
            for index, future in enumerate(futures):
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(done.result()[index])

        batch.add_done_callback(deliver)


def _worker_pool(workers: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["cfgtrack.config.compose"])
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def default_workers() -> int:
    """One worker process per idle core: on a busy machine more processes only add overhead."""
    cpus = available_cpus()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        busy = 0.0
    return max(1, min(cpus, cpus - round(busy) + 1))


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


@dataclass
class _Fingerprint:
    """What a composition depended on: its primary config, the config names, the blobs it read.

    Composing is a function of these alone, so a commit that changed only other files (another
    env's option, an unused model) has the same composed config.
    """

    config_name: str
    names: frozenset[str]
    read: dict[str, str]

    def matches(self, config_name: str, listing: Mapping[str, str]) -> bool:
        if config_name != self.config_name or _yaml_names(listing) != self.names:
            return False
        return all(listing.get(name) == blob for name, blob in self.read.items())


def _yaml_names(listing: Mapping[str, str]) -> frozenset[str]:
    return frozenset(name for name in listing if name.endswith(_CONFIG_SUFFIX))


@contextmanager
def _progress_bar(shown: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr for a long cold walk; nothing otherwise."""
    if not shown:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("Composing the config at each commit", total=total)
        yield lambda: progress.advance(task)


# --- the walk -----------------------------------------------------------------------------------


@dataclass
class _Timeline:
    """The walk's state for one composition."""

    history: History
    start: int  # commits at log indexes below this are walked
    values: dict[str, Any] = field(default_factory=dict)
    last_location: _Location | None = None
    last_fingerprint: _Fingerprint | None = None
    last_payload: dict[str, Any] | None = None

    def record(self, commit: CommitInfo, values: dict[str, Any], unresolved: set[str]) -> None:
        history = self.history
        if history.oldest is None:
            history.oldest = commit
        for key, kind in compare_values(self.values, values).items():
            if kind == REMOVED:
                history.changes[key].append(Change(commit, None, present=False))
                continue
            change = Change(commit, values[key], True, key in unresolved, first=kind == ADDED)
            history.changes.setdefault(key, []).append(change)
        self.values = values


@dataclass(frozen=True)
class _Step:
    index: int
    timeline: _Timeline
    location: _Location


class _Walk:
    """One walk over a first-parent history for several compositions at once."""

    def __init__(
        self,
        repo_root: Path,
        log: list[CommitInfo],
        cache: HistoryCache | None,
        workers: int | None,
        progress: bool | None,
    ) -> None:
        self.repo_root = repo_root
        self.objects = objects_for(repo_root)
        self.log = log
        self.cache = cache
        self.workers = default_workers() if workers is None else workers
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.pool: Executor | None = None
        self.batches: _Batches | None = None

    def _key(self, step: _Step) -> str:
        location, composition = step.location, step.timeline.history.composition
        return cache_key(
            "composed", location.tree, location.config_name, *composition.hydra_overrides()
        )

    def run(self, timelines: list[_Timeline], locations: list[_Location]) -> None:
        steps = self._plan(timelines, locations)
        misses = len(steps)
        if self.cache is not None and steps:
            misses -= len(self.cache.known([self._key(step) for step in steps]))
        if self.workers > 1 and misses >= PARALLEL_MIN_COMPOSES:
            self.pool = _worker_pool(self.workers)
            self.batches = _Batches(self.pool, BATCH_SIZE)
        try:
            with _progress_bar(
                self.progress and len(steps) >= PROGRESS_MIN_COMMITS, len(steps)
            ) as advance:
                for step, payload in self._outcomes(steps):
                    self._apply(step, payload)
                    advance()
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
            if self.cache is not None:
                self.cache.flush()

    @staticmethod
    def _plan(timelines: list[_Timeline], locations: list[_Location]) -> list[_Step]:
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
        fingerprint = timeline.last_fingerprint
        if fingerprint is not None and fingerprint.matches(location.config_name, listing):
            return timeline.last_payload or {}, True
        return None

    def _submit(self, step: _Step) -> tuple[Future[dict[str, Any]], bool]:
        """The step's payload (composed now, in a worker, or known) and whether to cache it."""
        location, timeline = step.location, step.timeline
        listing = self.objects.blob_ids(location.tree)
        future: Future[dict[str, Any]] = Future()
        known = self._known(step, listing)
        if known is not None:
            future.set_result(known[0])
            return future, known[1]
        names = sorted(_yaml_names(listing))
        label = f"{location.folder or '.'}@{self.log[step.index].sha[:10]}"
        overrides = timeline.history.composition.hydra_overrides()
        timeline.history.composed += 1
        if self.batches is not None:
            files = {name: self.objects.blob(listing[name]) for name in names}
            return self.batches.add((files, location.config_name, overrides, label)), True
        reader = _RecordingFiles(names, lambda name: self.objects.blob(listing[name]))
        future.set_result(_compose_payload(reader, location.config_name, overrides, label))
        return future, True

    def _finish(
        self, step: _Step, future: Future[dict[str, Any]], fresh: bool
    ) -> tuple[_Step, dict[str, Any]]:
        payload = future.result()
        if fresh and self.cache is not None:
            self.cache.store_composed(self._key(step), payload)
        return step, payload

    def _apply(self, step: _Step, payload: dict[str, Any]) -> None:
        timeline, commit = step.timeline, self.log[step.index]
        timeline.last_location = step.location
        if payload.get("absent"):
            return
        listing = self.objects.blob_ids(step.location.tree)
        timeline.last_payload = payload
        timeline.last_fingerprint = _Fingerprint(
            step.location.config_name,
            _yaml_names(listing),
            {name: listing[name] for name in payload["accessed"]},
        )
        if "error" in payload:
            timeline.history.skipped.append(Skipped(commit, payload["error"]))
        else:
            timeline.record(commit, payload["values"], set(payload["unresolved"]))


# --- checkpoints: a finished timeline saved at its tip commit -----------------------------------


def _checkpoint_key(folder: str, config_name: str, composition: Composition) -> str:
    return cache_key(
        "checkpoint",
        folder,
        config_name,
        composition.env_group,
        composition.env or "",
        *composition.overrides,
    )


def _save(timeline: _Timeline, shallow: bool) -> dict[str, Any]:
    history = timeline.history
    commits: dict[str, CommitInfo] = {}
    changes: dict[str, list[list[Any]]] = {}
    for key, items in history.changes.items():
        changes[key] = [[c.commit.sha, c.value, c.present, c.unresolved, c.first] for c in items]
        commits.update((c.commit.sha, c.commit) for c in items)
    commits.update((s.commit.sha, s.commit) for s in history.skipped)
    if history.oldest is not None:
        commits[history.oldest.sha] = history.oldest
    location = timeline.last_location
    return {
        "location": None
        if location is None
        else [location.folder, location.config_name, location.tree],
        "shallow": shallow,
        "cut": history.cut,
        "walked": history.walked,
        "oldest": history.oldest.sha if history.oldest else None,
        "commits": {
            sha: [c.date.isoformat(), c.author, c.email, c.subject] for sha, c in commits.items()
        },
        "changes": changes,
        "skipped": [[s.commit.sha, s.error] for s in history.skipped],
    }


def _restore(timeline: _Timeline, saved: dict[str, Any], start: int) -> None:
    commits = {
        sha: CommitInfo(sha, datetime.fromisoformat(date), author, email, subject)
        for sha, (date, author, email, subject) in saved["commits"].items()
    }
    history = timeline.history
    history.changes = {
        key: [
            Change(commits[sha], value, present, unresolved, first)
            for sha, value, present, unresolved, first in items
        ]
        for key, items in saved["changes"].items()
    }
    history.skipped = [Skipped(commits[sha], error) for sha, error in saved["skipped"]]
    history.cut = saved["cut"]
    history.walked = saved["walked"] + start
    history.oldest = commits.get(saved["oldest"]) if saved["oldest"] else None
    timeline.values = {key: change.value for key, change in history.current().items()}
    timeline.last_location = _Location(*saved["location"]) if saved["location"] else None
    timeline.start = start


def _resume_points(
    cache: HistoryCache, log: list[CommitInfo], keys: list[str], shallow: bool
) -> list[tuple[int, dict[str, Any]] | None]:
    """For each timeline key, the newest saved checkpoint on this first-parent chain."""
    position = {commit.sha: index for index, commit in enumerate(log)}
    points: list[tuple[int, dict[str, Any]] | None] = []
    for key in keys:
        tips = [position[tip] for tip in cache.checkpoint_tips(key) if tip in position]
        saved = cache.checkpoint(key, log[min(tips)].sha) if tips else None
        usable = saved is not None and saved["shallow"] == shallow
        points.append((min(tips), saved) if usable else None)
    return points


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
    progress: bool | None = None,
) -> list[History]:
    """The history of every key of each composition along the first-parent chain of ``rev``.

    ``folder`` is the config folder relative to ``repo_root`` and ``config_name`` the primary
    config, both as they are at ``rev``; earlier locations are found by following renames.
    ``since`` cuts the walk (ages become lower bounds); ``worktree`` adds uncommitted edits.
    """
    head = resolve_commit(repo_root, rev)
    log = first_parent_log(repo_root, head)
    since_cut = False
    if since is not None:
        kept = next((i for i, c in enumerate(log) if c.date < since), len(log))
        log, since_cut = log[:kept], kept < len(log)
    shallow = is_shallow(repo_root)
    locations = _track(repo_root, log, folder, config_name)
    cut = None
    if len(locations) == len(log) and log and (since_cut or shallow):
        cut = (
            f"--since {since.date().isoformat()}: older commits were not read"
            if since_cut and since is not None
            else "shallow clone: older commits are not in this clone"
        )
    keys = [_checkpoint_key(folder, config_name, c) for c in compositions]
    resumable = cache is not None and since is None
    points = _resume_points(cache, log, keys, shallow) if resumable else [None] * len(keys)
    timelines = []
    for composition, point in zip(compositions, points, strict=True):
        history = History(composition, head, walked=len(locations), cut=cut)
        timeline = _Timeline(history, start=len(locations))
        if point is not None and point[0] < len(locations):
            index, saved = point
            if saved["location"] and _Location(*saved["location"]) == locations[index]:
                _restore(timeline, saved, index)
        timelines.append(timeline)
    _Walk(repo_root, log, cache, workers, progress).run(timelines, locations)
    if resumable:
        for timeline, key in zip(timelines, keys, strict=True):
            if timeline.start > 0:  # else the saved checkpoint already ends at ``head``
                cache.store_checkpoint(key, head, _save(timeline, shallow))
    if worktree:
        here = locations[0] if locations else _Location(folder, config_name, "")
        _add_uncommitted(repo_root, here.folder, here.config_name, timelines)
    return [timeline.history for timeline in timelines]


def _add_uncommitted(
    repo_root: Path, folder: str, config_name: str, timelines: list[_Timeline]
) -> None:
    """Edits not yet committed count as a change now, marked uncommitted."""
    path = repo_root / folder
    if not (path / f"{config_name}{_CONFIG_SUFFIX}").is_file() or not folder_is_dirty(
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
            composed = compose_dir(path, config_name, composition.hydra_overrides())
        except CfgtrackError as exc:
            timeline.history.skipped.append(Skipped(now, str(exc)))
            continue
        timeline.record(now, composed.values, set(composed.unresolved))


# --- entry points for the commands --------------------------------------------------------------


def config_folder(settings: Settings) -> tuple[Path, str]:
    """``(repository root, config folder relative to it)``; clear errors outside a repository."""
    repo_root = repo_toplevel(settings.root)
    try:
        relative = settings.config_dir.resolve().relative_to(repo_root).as_posix()
    except ValueError:
        raise CfgtrackError(
            f"config folder {settings.config_dir} is outside the git repository {repo_root}; "
            "set config_dir to a folder inside it"
        ) from None
    return repo_root, "" if relative == "." else relative


def env_options(settings: Settings) -> list[str]:
    """The options of the env group in the work tree (``conf/env/*.yaml`` -> names)."""
    group = settings.config_dir / settings.env_group
    return sorted(path.stem for path in group.glob(f"*{_CONFIG_SUFFIX}")) if group.is_dir() else []


def load_histories(
    settings: Settings,
    envs: Sequence[str | None],
    *,
    overrides: Sequence[str] = (),
    rev: str = "HEAD",
    since: datetime | None = None,
    use_cache: bool = True,
    worktree: bool | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> list[History]:
    """The history of each env's composition of the project's config (see ``walk``).

    Uncommitted edits count (``worktree``) by default when walking from ``HEAD``.
    """
    repo_root, folder = config_folder(settings)
    if rev == "HEAD" and objects_for(repo_root).read("HEAD^{commit}") is None:
        raise CfgtrackError(
            f"{repo_root} has no commits yet; commit the config so it has a history to age"
        )
    compositions = [Composition(env, settings.env_group, tuple(overrides)) for env in envs]
    cache = HistoryCache.for_repository(repo_root) if use_cache else None
    try:
        return walk(
            repo_root,
            folder,
            settings.config_name,
            compositions,
            rev=rev,
            since=since,
            worktree=rev == "HEAD" if worktree is None else worktree,
            cache=cache,
            workers=workers,
            progress=progress,
        )
    finally:
        if cache is not None:
            cache.close()


def cached_history(
    settings: Settings, composition: Composition, rev: str = "HEAD"
) -> History | None:
    """The committed history at ``rev`` if an earlier walk saved it; never walks or composes.

    For callers that show ages only when they cost nothing (``cfgtrack diff`` without ``--ages``).
    """
    repo_root, folder = config_folder(settings)
    cache = HistoryCache.for_repository(repo_root, create=False)
    if cache is None:
        return None
    try:
        head = resolve_commit(repo_root, rev)
        saved = cache.checkpoint(_checkpoint_key(folder, settings.config_name, composition), head)
    finally:
        cache.close()
    if saved is None:
        return None
    timeline = _Timeline(History(composition, head), start=0)
    _restore(timeline, saved, 0)
    return timeline.history
