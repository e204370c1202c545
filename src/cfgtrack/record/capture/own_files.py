"""The files cfgtrack and Hydra write into the project: never part of a run's git state.

The embedded store (``mlflow.db`` and its journals), its artifact folders (``mlartifacts/``, and
``mlruns/`` for experiments MLflow itself created in that store), the spool, the
fingerprint cache, and the output root Hydra writes runs and sweeps to (``outputs/``,
``multirun/`` or whatever ``hydra.run.dir`` / ``hydra.sweep.dir`` resolve to). Each is added to
``.git/info/exclude`` the first time a run sees it (the project's ``.gitignore`` is never
edited), and the dirty check leaves them out in any case, so a repository that ignores nothing
still records clean runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from omegaconf import DictConfig, OmegaConf

from cfgtrack.git import exclude
from cfgtrack.settings import Settings

log = logging.getLogger("cfgtrack")
SQLITE_PREFIX = "sqlite:///"
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")
RUN_FOLDER = "cfgtrack"


@dataclass(frozen=True)
class OwnFiles:
    """Paths relative to the repository root; a folder covers everything below it."""

    files: frozenset[str] = frozenset()
    folders: tuple[str, ...] = ()

    def covers(self, name: str) -> bool:
        """True when ``name`` (as git status prints it) is one of these files or inside one."""
        name = name.rstrip("/")
        return name in self.files or any(
            name == folder or name.startswith(folder + "/") for folder in self.folders
        )

    def patterns(self) -> list[str]:
        files = [exclude.pattern(PurePosixPath(name), folder=False) for name in sorted(self.files)]
        return files + [exclude.pattern(PurePosixPath(name), folder=True) for name in self.folders]


def _relative(root: Path, path: Path) -> PurePosixPath | None:
    try:
        return PurePosixPath(path.resolve().relative_to(root).as_posix())
    except ValueError:  # outside the repository: nothing of git's business
        return None


def _store_files(settings: Settings) -> tuple[list[Path], list[Path]]:
    """(files, folders) of the embedded store when it is a SQLite file."""
    uri = settings.resolved_tracking_uri()
    folders = [settings.artifact_root, settings.spool_dir or settings.root / ".cfgtrack"]
    if not uri.startswith(SQLITE_PREFIX):
        return [], folders
    database = Path(uri[len(SQLITE_PREFIX) :])
    files = [database, *(database.with_name(database.name + s) for s in SQLITE_COMPANIONS)]
    # cfgtrack's experiments keep artifacts in mlartifacts/; ones MLflow created itself in ./mlruns
    return files, [*folders, database.parent / "mlartifacts", database.parent / "mlruns"]


def _output_folders(root: Path, config: DictConfig, role: str) -> list[PurePosixPath]:
    """The output root of this run or sweep, else what Hydra and cfgtrack put in its folder."""

    def select(key: str) -> object:
        return OmegaConf.select(config, key, default=None)

    if role == "sweep":
        base = Path(str(select("hydra.runtime.cwd") or root))
        output_dir = base / str(select("hydra.sweep.dir") or ".")
    else:
        output_dir = Path(str(select("hydra.runtime.output_dir") or root))
    relative = _relative(root, output_dir)
    if relative is None:
        return []
    listed = exclude.listed(root)
    for candidate in (relative, *relative.parents):
        if candidate.parts and exclude.pattern(candidate, folder=True) in listed:
            return [candidate]
    found = exclude.untracked_root(root, relative)
    if found is not None:
        return [found]
    inside = [str(select("hydra.output_subdir") or ".hydra"), RUN_FOLDER]
    return [relative / name for name in inside]


def own_files(config: DictConfig, settings: Settings, role: str = "job") -> OwnFiles:
    """What this run's cfgtrack and Hydra write under the repository root."""
    root = settings.root.resolve()
    files, folders = _store_files(settings)
    if settings.data_cache:
        files.append(settings.data_cache)
    relative_files = {_relative(root, path) for path in files} - {None}
    relative_folders = {_relative(root, path) for path in folders} - {None}
    relative_folders |= set(_output_folders(root, config, role))
    return OwnFiles(
        files=frozenset(str(path) for path in relative_files if path.parts),
        folders=tuple(sorted(str(path) for path in relative_folders if path.parts)),
    )


def exclude_own_files(config: DictConfig, settings: Settings, role: str = "job") -> OwnFiles:
    """``own_files``, listed in ``.git/info/exclude`` when not yet; never raises."""
    try:
        own = own_files(config, settings, role)
    except Exception as exc:  # the run goes on; its dirty check then sees more than it should
        log.warning("cfgtrack: finding cfgtrack's own files failed (%s)", exc)
        return OwnFiles()
    if (settings.root / ".git").exists():
        try:
            exclude.add(settings.root, own.patterns())
        except OSError as exc:
            log.debug("cfgtrack: .git/info/exclude not updated (%s)", exc)
    return own
