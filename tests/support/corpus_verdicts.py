"""Hydra's verdict at every commit (the machinery of tests/config/test_corpus_verdicts*.py):
cfgtrack composes a real project's config at a commit exactly
when Hydra 1.3.8 composes it, to the same config, and resolves its interpolations exactly as
OmegaConf does.

For every first-parent config commit of every corpus project (and each app of Hydra's own
history), under both version bases the corpus recorded (``None`` = current rules, ``"1.1"``):

- cfgtrack composes from git objects (its fast path, falling back to Hydra's compose), and
- Hydra's own ``compose`` runs on a checkout of that commit (``git archive`` into a temp folder,
  the working directory at its root, as the projects run),

and the two must agree: both fail, or both give the same config (the corpus hash of the whole
unresolved tree, so every key, value and type). The corpus's ``.tsv`` files, computed on the
upstream checkouts, are a cross-check of both. Every distinct config cfgtrack composed is also
resolved twice, by cfgtrack's plain-tree resolver and by OmegaConf (tests/support/
corpus_resolution.py), and the two must give the same values and the same unresolved keys.

Hydra's own compose through its public API costs 0.3-1 s a commit here (30x cfgtrack's), so it
runs on a sample of ``HYDRA_SAMPLE`` commits per project and version base (the first, the last,
commits whose recorded verdict changes, failures first, then evenly spaced ones), which keeps the
whole check near a minute on two cores; cfgtrack's verdict at every commit is cross-checked
against the corpus's record of Hydra's.

Where Hydra 1.3.8 and cfgtrack honestly differ, and how the test treats it:
- A plugin named in the defaults list that is not installed (NeMo's first commit:
  ``override hydra/launcher: submitit_slurm``): Hydra fails, cfgtrack composes as if it were
  installed (its options only shape the ``hydra`` node, which is never compared). The test runs
  Hydra again with the plugin's config stood in and requires that result.
- Schemas registered in Python: the corpus describes them instead of shipping them, so the test
  registers its own equivalents (tests/support/corpus_schemas.py, BenchMARL's empty nodes) for both
  composers; against the tsv only the verdict is compared for those projects, since the
  upstream schema's fields shape the hash.
- A tsv failure that is not a composition failure (hydra-somewhat-advanced's first commit: its
  entry point did not import on Python 3.11, ``JSONDecodeError``) is no verdict to cross-check.
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from cfgtrack.config.compose import compose_tree, search_folder_entries
from cfgtrack.config.composed import as_written
from cfgtrack.errors import CfgtrackError
from cfgtrack.git.objects import folder_tree_id, read_folder
from support.corpus import (
    SCHEMA_MODULES,
    Row,
    Verdict,
    clone,
    config_store,
    digest,
    forget,
    projects,
    rows,
)
from support.corpus_resolution import disagreement

VERSION_BASES = (None, "1.1")
HYDRA_SAMPLE = 6  # commits Hydra's own compose runs on, per project and version base
_MISSING_PLUGIN = re.compile(r"Could not find 'hydra/(\w+)/(\w+)'")


@dataclass(frozen=True)
class Agreement:
    """One project's figures: commits (x version bases) agreeing / compared, and distinct
    composed configs resolved alike / resolved."""

    with_hydra: tuple[int, int]
    with_tsv: tuple[int, int]
    disagreements: list[str]
    resolved: tuple[int, int] = (0, 0)


def cfgtrack_verdict(
    repo: Path, row: Row, version_base: str | None, trees: dict[str, dict] | None = None
) -> Verdict:
    """cfgtrack's verdict at the row's commit; the composed tree goes to ``trees`` by digest."""
    files = read_folder(repo, row.commit, row.folder)
    folders = {
        entry: read_folder(repo, row.commit, entry.removeprefix("file://"))
        for entry in search_folder_entries(files, row.config_name)
        if folder_tree_id(repo, row.commit, entry.removeprefix("file://")) is not None
    }
    try:
        tree, _ = compose_tree(
            files,
            row.config_name,
            row.overrides,
            label=f"{row.folder}@{row.commit}",
            version_base=version_base,
            search_folders=folders,
        )
    except CfgtrackError as exc:
        return Verdict(False, str(exc))
    if trees is not None:
        trees.setdefault(digest(tree), tree)
    return Verdict(True, digest(tree))


@contextmanager
def checkout(repo: Path, row: Row) -> Iterator[Path]:
    """The commit's config folders extracted to a temp folder (the project root's stand-in)."""
    with tempfile.TemporaryDirectory(prefix="cfgtrack-corpus-") as folder:
        root = Path(folder)
        files = read_folder(repo, row.commit, row.folder)
        paths = [
            row.folder,
            *(e.removeprefix("file://") for e in search_folder_entries(files, row.config_name)),
        ]
        paths = [p for p in paths if folder_tree_id(repo, row.commit, p) is not None]
        archive = subprocess.run(
            ["git", "archive", "--format=tar", row.commit, "--", *paths],
            cwd=repo,
            check=True,
            capture_output=True,
        ).stdout
        tar_path = root / ".checkout.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(root, filter="data")
        yield root


def hydra_verdict(repo: Path, row: Row, version_base: str | None) -> Verdict:
    """Hydra's own compose on a checkout; a missing plugin is stood in and composed again."""
    with checkout(repo, row) as root:
        verdict = _hydra_compose(root, row, version_base)
        plugin = _MISSING_PLUGIN.search(verdict.digest) if not verdict.ok else None
        if plugin is None:
            return verdict
        ConfigStore.instance().store(group=f"hydra/{plugin[1]}", name=plugin[2], node={})
        try:
            return _hydra_compose(root, row, version_base)
        finally:
            forget(f"hydra/{plugin[1]}", plugin[2])


def _hydra_compose(root: Path, row: Row, version_base: str | None) -> Verdict:
    here = os.getcwd()
    os.chdir(root)  # relative ``file://`` search paths are read from the project root
    try:
        with initialize_config_dir(str(root / row.folder), version_base=version_base):
            cfg = compose(config_name=row.config_name, overrides=list(row.overrides))
    except Exception as exc:  # Hydra's verdict is whatever it raises
        return Verdict(False, f"{type(exc).__name__}: {exc}")
    finally:
        os.chdir(here)
    tree = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(tree, dict)
    return Verdict(True, digest(tree))


def hydra_sample(found: list[Row], version_base: str | None) -> list[Row]:
    """Up to ``HYDRA_SAMPLE`` commits: the first and the last, then those whose recorded verdict
    differs from the previous commit's (failures first), then evenly spaced ones."""
    failures, changes = [], []
    previous: dict[str, Verdict] = {}
    for index, row in enumerate(found):
        verdict = row.verdicts[version_base]
        if previous.get(row.app) != verdict:
            (changes if verdict.ok else failures).append(index)
        previous[row.app] = verdict
    spaced = range(0, len(found), max(1, len(found) // HYDRA_SAMPLE))
    chosen: list[int] = []
    for index in (0, len(found) - 1, *_spread(failures), *_spread(changes), *spaced):
        if index not in chosen and len(chosen) < HYDRA_SAMPLE:
            chosen.append(index)
    return [found[index] for index in sorted(chosen)]


def _spread(indexes: list[int]) -> list[int]:
    """``indexes`` reordered so that any prefix is spread over the whole list."""
    step = max(1, len(indexes) // HYDRA_SAMPLE)
    return indexes[::step] + [index for index in indexes if index % step]


def cross_checks(row: Row, version_base: str | None, ours: Verdict) -> bool | None:
    """Does cfgtrack's verdict match the corpus's record? None where the record is no verdict."""
    recorded = row.verdicts[version_base]
    if not recorded.ok and recorded.digest.startswith("JSONDecodeError"):
        return None  # the upstream entry point failed to import; nothing was composed
    if not recorded.ok and _MISSING_PLUGIN.search(recorded.digest):
        return ours.ok  # composed as if the plugin were installed
    if recorded.ok != ours.ok:
        return False
    schema_in_test = row.project in SCHEMA_MODULES
    return not ours.ok or schema_in_test or recorded.digest == ours.digest


def agreement(project: str, repo: Path) -> Agreement:
    found = rows(project)
    hydra_agree = hydra_total = tsv_agree = tsv_total = 0
    disagreements = []
    trees: dict[str, dict] = {}
    with config_store(project):
        for version_base in VERSION_BASES:
            ours = {
                row.commit + row.app: cfgtrack_verdict(repo, row, version_base, trees)
                for row in found
            }
            for row in found:
                checked = cross_checks(row, version_base, ours[row.commit + row.app])
                if checked is None:
                    continue
                tsv_total += 1
                tsv_agree += checked
                if not checked:
                    disagreements.append(
                        f"tsv {row.app} {row.commit} vb={version_base}: "
                        f"{ours[row.commit + row.app]}"
                    )
            for row in hydra_sample(found, version_base):
                theirs, mine = hydra_verdict(repo, row, version_base), ours[row.commit + row.app]
                same = theirs.ok == mine.ok and (not theirs.ok or theirs == mine)
                hydra_total += 1
                hydra_agree += same
                if not same:
                    disagreements.append(
                        f"hydra {row.app} {row.commit} vb={version_base}: "
                        f"hydra {theirs} cfgtrack {mine}"
                    )
    resolved_alike = 0
    for key, tree in trees.items():
        differs = disagreement(as_written(tree))
        resolved_alike += differs is None
        if differs is not None:
            disagreements.append(f"resolution of config {key}: {differs}")
    return Agreement(
        (hydra_agree, hydra_total),
        (tsv_agree, tsv_total),
        disagreements,
        (resolved_alike, len(trees)),
    )


if __name__ == "__main__":  # figures for BENCHMARKS.md: PYTHONPATH=tests python <this file>
    work = Path(tempfile.mkdtemp(prefix="cfgtrack-corpus-"))
    for name in projects():
        began = time.perf_counter()
        figures = agreement(name, clone(name, work / name))
        print(
            f"| {name} | {figures.with_hydra[0]}/{figures.with_hydra[1]} | "
            f"{figures.with_tsv[0]}/{figures.with_tsv[1]} | "
            f"{figures.resolved[0]}/{figures.resolved[1]} | {time.perf_counter() - began:.1f} s |"
        )
        for line in figures.disagreements:
            print("   ", line[:300])
