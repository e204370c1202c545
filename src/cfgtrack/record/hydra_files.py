"""Hydra's own saved files (``.hydra/*.yaml``, ``multirun.yaml``) rewritten masked."""

from __future__ import annotations

import atexit
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cfgtrack.redact import Redactor

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


def redact_hydra_files(config: Any, redactor: Redactor) -> list[Path]:
    """Mask secrets in the files Hydra saved for this job; returns the files rewritten.

    Hydra saves the config unresolved, so the job's unresolved config tells whether any file
    holds a secret; only then are the files read back and rewritten.
    """
    if not holds_secret(config, redactor):
        return []
    return rewrite_yaml_files(hydra_saved_files(config), redactor)


def holds_secret(config: Any, redactor: Redactor) -> bool:
    """True when the unresolved config holds anything the redactor masks (it learns it)."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(config, resolve=False)
    redactor._learn_tree(tree)
    return redactor.tree(tree, keep_references=True) != tree


def redact_sweep_file(config: Any, redactor: Redactor) -> None:
    """Make ``multirun.yaml`` land masked.

    Hydra's sweeper saves the file after the sweep's callbacks start, then composes every job
    and launches them: a process killed in between (SIGKILL from an OOM killer or a CI timeout,
    a callback before cfgtrack's) would leave the file in clear. So Hydra's one save of that
    path writes the masked config instead, atomically: no clear version ever exists on disk.
    The file is also rewritten masked when the process ends, for a sweeper that writes it
    another way.
    """
    if not holds_secret(config, redactor):
        return
    paths = [path for path in hydra_saved_files(config) if path.name == "multirun.yaml"]
    if not paths:
        return
    _save_masked_once(paths[0], redactor)
    atexit.register(rewrite_yaml_files, paths, redactor)


def _save_masked_once(path: Path, redactor: Redactor) -> None:
    """The next ``OmegaConf.save`` to ``path`` writes its config masked (and puts the original
    ``save`` back); saves to any other path are untouched."""
    from omegaconf import OmegaConf

    from cfgtrack.record.run_record import write_atomic

    original = OmegaConf.save
    target = path.absolute()

    def save(config: Any, f: Any, resolve: bool = False) -> None:
        if not isinstance(f, (str, Path)) or Path(f).absolute() != target:
            return original(config, f, resolve)
        OmegaConf.save = original  # type: ignore[method-assign]
        tree = OmegaConf.to_container(config, resolve=resolve)
        masked = redactor.tree(tree, keep_references=True)
        write_atomic(target, OmegaConf.to_yaml(OmegaConf.create(masked)))
        return None

    OmegaConf.save = save  # type: ignore[method-assign]


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
