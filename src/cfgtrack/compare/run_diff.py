"""Run against run: what differs between two recorded runs besides their configs.

``cfgtrack diff run:A run:B`` compares the configs as any two sources are compared; this module
adds the rest of the two records: the environment (packages, Python, platform, GPU), the code
(commits between the two SHAs, uncommitted changes and their patches) and the data (dataset
fingerprints). Each fact becomes an ``Item`` with the two sides' text and a kind, so every
output format lays them out alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgtrack.compare.run_environment import EnvironmentDiff, environment_changes
from cfgtrack.compare.run_items import CHANGED, EQUAL, INFO, NOT_RECORDED, Item, item
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import duration_text
from cfgtrack.tracking.runstore import patch_sha256

if TYPE_CHECKING:
    from cfgtrack.compare.diff import DiffResult
    from cfgtrack.git.objects import CommitInfo
    from cfgtrack.settings import Settings

ASPECTS = ("config", "env", "git", "data")
MAX_LISTED_COMMITS = 100


@dataclass(frozen=True)
class Commits:
    """Commits between two runs' SHAs in the local repository; ``reason`` when unknown."""

    forward: list[CommitInfo] = field(default_factory=list)  # on the right, not the left
    backward: list[CommitInfo] = field(default_factory=list)  # on the left, not the right
    forward_count: int = 0
    backward_count: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def listed(commits: list[CommitInfo]) -> list[dict[str, Any]]:
            return [
                {"sha": c.sha, "date": c.date.isoformat(), "author": c.author, "subject": c.subject}
                for c in commits
            ]

        return {
            "known": self.reason is None,
            "reason": self.reason,
            "left_to_right": self.forward_count,
            "right_to_left": self.backward_count,
            "left_to_right_commits": listed(self.forward),
            "right_to_left_commits": listed(self.backward),
        }


@dataclass(frozen=True)
class GitDiff:
    """Commit, uncommitted changes and patch of each run, and the commits between them."""

    facts: list[Item]
    commits: Commits
    left: dict[str, Any]
    right: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            **{
                fact.name: {"left": fact.left, "right": fact.right, "same": not fact.differs}
                for fact in self.facts
            },
            "commits": self.commits.to_dict(),
        }


def _git_side(git: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": bool(git.get("dirty")),
        "modified": list(git.get("modified") or []),
        "untracked": list(git.get("untracked") or []),
        "patch_sha256": patch_sha256(dict(git)),
        "reason": git.get("reason"),
    }


def _dirty_text(side: Mapping[str, Any]) -> str:
    if not side["commit"] and side["reason"]:
        return NOT_RECORDED
    files = len(side["modified"]) + len(side["untracked"])
    return f"yes ({files} file{'s' if files != 1 else ''})" if side["dirty"] else "no"


def commits_between(repo: Path | None, left: str | None, right: str | None) -> Commits:
    """The commits from ``left`` to ``right`` and back, when this repository has both."""
    if not left or not right:
        return Commits(reason="a run has no recorded commit")
    if left == right:
        return Commits()
    if repo is None:
        return Commits(reason="not inside a git repository")
    from cfgtrack.git.objects import first_parent_log, object_ids

    missing = [
        sha
        for sha, found in zip(
            (left, right),
            object_ids(repo, [f"{left}^{{commit}}", f"{right}^{{commit}}"]),
            strict=True,
        )
        if found is None
    ]
    if missing:
        return Commits(reason=f"commit {missing[0][:10]} is not in {repo} (git fetch it)")
    forward = first_parent_log(repo, f"{left}..{right}")
    backward = first_parent_log(repo, f"{right}..{left}")
    return Commits(
        forward[:MAX_LISTED_COMMITS],
        backward[:MAX_LISTED_COMMITS],
        len(forward),
        len(backward),
    )


def git_changes(
    left: Mapping[str, Any] | None, right: Mapping[str, Any] | None, repo: Path | None
) -> GitDiff:
    """The code of ``right`` against ``left`` (records' ``git`` sections)."""
    a, b = _git_side(left or {}), _git_side(right or {})
    facts = [
        item("commit", a["commit"] or NOT_RECORDED, b["commit"] or NOT_RECORDED),
        item("dirty", _dirty_text(a), _dirty_text(b)),
    ]
    if a["dirty"] or b["dirty"]:
        same = a["patch_sha256"] == b["patch_sha256"]
        facts.append(Item("patch", _patch_text(a), _patch_text(b), EQUAL if same else CHANGED))
    return GitDiff(facts, commits_between(repo, a["commit"], b["commit"]), a, b)


def _patch_text(side: Mapping[str, Any]) -> str:
    digest = side["patch_sha256"]
    return f"sha256:{digest[:12]}" if digest else "none"


def data_changes(
    left: Sequence[Mapping[str, Any]] | None, right: Sequence[Mapping[str, Any]] | None
) -> list[Item]:
    """Datasets (by name) whose fingerprint differs, or that only one run declared."""
    a, b = _fingerprints(left), _fingerprints(right)
    names = sorted(a.keys() | b.keys())
    return [item(name, a.get(name), b.get(name)) for name in names]


def data_ages(
    left: Sequence[Mapping[str, Any]] | None, right: Sequence[Mapping[str, Any]] | None
) -> list[Item]:
    """Each dataset's age at its run's start, side by side: context, never a difference (two
    runs started at different times see the same data at different ages)."""
    a, b = _ages(left), _ages(right)
    return [
        Item(f"{name} age", a.get(name), b.get(name), INFO) for name in sorted(a.keys() | b.keys())
    ]


def _ages(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    return {
        str(entry.get("name")): duration_text(entry["age_s"])
        for entry in entries or ()
        if entry.get("age_s") is not None
    }


def _fingerprints(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    found = {}
    for entry in entries or ():
        digest = entry.get("sha256")
        text = f"sha256:{digest}" if digest else f"error: {entry.get('error')}"
        found[str(entry.get("name"))] = text
    return found


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared in the asked aspects; ``config`` is the usual config comparison."""

    what: tuple[str, ...]
    config: DiffResult
    runs: tuple[dict[str, Any], dict[str, Any]]
    environment: EnvironmentDiff | None = None
    git: GitDiff | None = None
    data: list[Item] | None = None
    data_ages: list[Item] = field(default_factory=list)

    def sections(self) -> list[tuple[str, list[Item]]]:
        """Every non-config aspect asked for, with its items (equal facts kept for context,
        equal packages left out)."""
        found = []
        if self.environment is not None:
            packages = [replace(p, name=f"package {p.name}") for p in self.environment.packages]
            found.append(("environment", self.environment.facts + packages))
        if self.git is not None:
            found.append(("git", self.git.facts))
        if self.data is not None:
            data = self.data + self.data_ages
            found.append(("data", [replace(d, name=f"dataset {d.name}") for d in data]))
        return found

    @property
    def differing(self) -> list[tuple[str, Item]]:
        return [(name, i) for name, items in self.sections() for i in items if i.differs]

    @property
    def exit_code(self) -> int:
        """1 when the configs differ undocumented or any other asked aspect differs."""
        config = "config" in self.what and self.config.exit_code
        return 1 if config or self.differing else 0


def wanted_aspects(what: str | None, left: str, right: str) -> tuple[str, ...] | None:
    """The aspects ``--what`` asks for: every one when both sides are runs and it is not given;
    None when this is not a run-against-run comparison (the plain config diff)."""
    from cfgtrack.compare.sources import names_a_run

    both_runs = names_a_run(left) and names_a_run(right)
    if what is None:
        return ASPECTS if both_runs else None
    asked = tuple(dict.fromkeys(part.strip() for part in what.split(",") if part.strip()))
    unknown = [part for part in asked if part not in ASPECTS]
    if unknown or not asked:
        raise CfgtrackError(
            f"--what: {what!r} is not a list of {', '.join(ASPECTS)}; write e.g. --what env,git"
        )
    if not both_runs:
        if asked == ("config",):
            return None
        raise CfgtrackError(
            f"--what {what}: env, git and data compare two recorded runs; give run:<id> or "
            "models:/NAME@ALIAS on both sides"
        )
    return asked


def run_side(record: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """Which run a side is: id, experiment, start, status (for headings and JSON)."""
    run = record.get("run") or {}
    mlflow = run.get("mlflow") or {}
    return {
        "run_id": run_id,
        "experiment": mlflow.get("experiment"),
        "start_time": run.get("start_time"),
        "status": run.get("status"),
        "env": run.get("env"),
    }


def compare_runs(
    config: DiffResult, what: Sequence[str], settings: Settings | None = None
) -> RunDiff:
    """Extend a ``run:A`` vs ``run:B`` config comparison with the aspects in ``what``."""
    from cfgtrack.git.repo import find_root
    from cfgtrack.settings import load_settings
    from cfgtrack.tracking.runstore import load_record

    settings = settings or load_settings()
    uri = settings.resolved_tracking_uri()
    left_id, right_id = config.left.spec.name, config.right.spec.name
    left, right = load_record(uri, left_id), load_record(uri, right_id)
    what = tuple(what)
    return RunDiff(
        what=what,
        config=config,
        runs=(run_side(left, left_id), run_side(right, right_id)),
        environment=(
            environment_changes(left.get("environment"), right.get("environment"))
            if "env" in what
            else None
        ),
        git=(
            git_changes(left.get("git"), right.get("git"), find_root(settings.root))
            if "git" in what
            else None
        ),
        data=data_changes(left.get("data"), right.get("data")) if "data" in what else None,
        data_ages=data_ages(left.get("data"), right.get("data")) if "data" in what else [],
    )
