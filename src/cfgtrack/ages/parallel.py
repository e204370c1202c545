"""Composing at many commits: the files a composition read, and worker processes for cold walks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from cfgtrack.errors import CfgtrackError
from cfgtrack.redact import Redactor

PARALLEL_MIN_COMPOSES = 32
BATCH_SIZE = 8


# --- composing at one commit --------------------------------------------------------------------


class RecordingFiles(Mapping[str, bytes]):
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


@dataclass(frozen=True)
class Job:
    """One compose at one commit: a worker process gets it whole (files as bytes)."""

    config_name: str
    overrides: Sequence[str]
    label: str
    version_base: str | None = None
    search_folders: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    schemas: tuple[str, tuple[str, ...]] = ("", ())  # project root, schema modules
    env_group: str | None = None


def compose_payload(files: RecordingFiles, job: Job) -> dict[str, Any]:
    from cfgtrack.config.compose import compose_files
    from cfgtrack.config.schemas import import_modules

    try:
        import_modules(*job.schemas)  # in a worker process: once per process
        composed = compose_files(
            files,
            job.config_name,
            job.overrides,
            label=job.label,
            version_base=job.version_base,
            search_folders=job.search_folders,
            env_group=job.env_group,
        )
    except CfgtrackError as exc:
        return {"error": str(exc), "accessed": sorted(files.accessed)}
    return {
        "values": composed.values,
        "unresolved": sorted(composed.unresolved),
        "references": composed.references,
        "accessed": sorted(files.accessed),
    }


def mask_payload(payload: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """A composed payload with its values (and an error's text) masked."""
    masked = dict(payload)
    if "values" in payload:
        secret_keys = redactor.referring_to_secrets(masked.pop("references", None))
        masked["values"] = redactor.flat(payload["values"], secret_keys)
        masked["unresolved"] = [redactor.name(key) for key in payload.get("unresolved", [])]
    if "error" in payload:
        masked["error"] = redactor.text(str(payload["error"]))
    return masked


def _compose_in_worker(jobs: list[tuple[dict[str, bytes], Job]]) -> list[dict[str, Any]]:
    """Compose a run of consecutive commits in a worker process (a long cold walk)."""
    return [
        compose_payload(RecordingFiles(list(files), files.__getitem__), job) for files, job in jobs
    ]


class Batches:
    """Compose jobs sent to worker processes in runs of consecutive commits.

    A worker composing consecutive commits finds their unchanged files already parsed, and one
    message carries several configs each way.
    """

    def __init__(self, pool: Executor, size: int) -> None:
        self.pool = pool
        self.size = size
        self.jobs: list[tuple[dict[str, bytes], Job]] = []
        self.futures: list[Future[dict[str, Any]]] = []

    def add(self, job: tuple[dict[str, bytes], Job]) -> Future[dict[str, Any]]:
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


def worker_pool(workers: int) -> Executor:
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
