"""Parameter history speed: a cold walk, a warm re-run, one new commit, and peak memory.

Run:  .venv/bin/python benchmarks/bench_history.py [--commits 2000] [--repeats 3] [--naive 40]

Generates (git fast-import, backdated) a repository whose 2,000 first-parent commits each change
one value of a 500-leaf Hydra config (primary config + a model group option + an env option),
then measures, side by side in this one run:

- naive: per commit, ``git archive`` of the config folder into a temp dir and a fresh Hydra
  ``initialize_config_dir`` + ``compose`` + resolve + flatten (on an evenly spaced sample);
- cfgtrack cold walk (empty cache), in a fresh process, with the default worker processes and
  with one process: ms per config-changing commit and the walking process's peak memory (max
  RSS; a worker only composes, so it stays below the one-process figure), plus a one-process
  walk of a quarter of the history, to compare memory against history length;
- warm re-run with no new commit: the whole ``cfgtrack history KEY`` command, interpreter
  start included, and the walk alone;
- one new commit: the walk after committing one more change (composes one config).

With the shared corpus beside the project (``../shared/corpus``), also on its longest real
history (NeMo-Framework-Launcher, 401 first-parent config commits, config folder moved twice):
the naive walk at an evenly spaced sample of its config commits (each at the primary config the
corpus records for it) against cfgtrack's cold walk of the whole history in one process, in the
same run, and the warm re-run (the walk alone, and the whole ``cfgtrack stale`` command).

Targets: cold <= 60 ms per config-changing commit; warm <= 1 s; memory reported. On the corpus's
longest history: cold <= 0.25x naive per commit, warm re-run <= 0.3 s.
Figures are medians of ``--repeats`` runs. Wall times swing with the machine's load; CPU times
(process + children) are printed beside them because they barely do.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))
START = 1_577_836_800  # 2020-01-01
SECTIONS, PER_SECTION, MODEL_GROUPS, PER_GROUP, ENV_KEYS = 10, 25, 4, 50, 50
FILES = ("config.yaml", "model/big.yaml", "env/prod.yaml")


def config_files(version: dict[str, int]) -> dict[str, str]:
    """The config folder with every leaf's value derived from ``version`` (per-key counters)."""

    def value(key: str, base: int) -> str:
        number = base + version.get(key, 0)
        kind = number % 4
        return [str(number), f"{number}.5", f"name-{number}", f"[{number}, {number + 1}]"][kind]

    primary = ["defaults:", "  - model: big", "  - env: staging", "  - _self_", ""]
    for s in range(SECTIONS):
        primary.append(f"section{s}:")
        primary += [f"  key{k}: {value(f'section{s}.key{k}', s * k)}" for k in range(PER_SECTION)]
    model = []
    for g in range(MODEL_GROUPS):
        model.append(f"group{g}:")
        model += [
            f"  param{p}: {value(f'model.group{g}.param{p}', g + p)}" for p in range(PER_GROUP)
        ]
    prod = ["# @package _global_", "serving:"]
    prod += [f"  setting{e}: {value(f'serving.setting{e}', e)}" for e in range(ENV_KEYS)]
    staging = ["# @package _global_", "serving:"] + [f"  setting{e}: {e}" for e in range(ENV_KEYS)]
    return {
        "config.yaml": "\n".join(primary) + "\n",
        "model/big.yaml": "\n".join(model) + "\n",
        "env/prod.yaml": "\n".join(prod) + "\n",
        "env/staging.yaml": "\n".join(staging) + "\n",
    }


def changed_key(number: int) -> str:
    """The key commit ``number`` changes, cycling through the three files of the composition."""
    which = number % 3
    if which == 0:
        return f"section{number % SECTIONS}.key{number % PER_SECTION}"
    if which == 1:
        return f"model.group{number % MODEL_GROUPS}.param{number % PER_GROUP}"
    return f"serving.setting{number % ENV_KEYS}"


def generate(repo: Path, commits: int) -> None:
    """``commits`` first-parent commits, one a day, each changing one value of the config."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    version: dict[str, int] = {}
    stream = []
    for number in range(commits):
        if number:
            key = changed_key(number)
            version[key] = version.get(key, 0) + 1
        who = f"Bench <bench@example.com> {START + number * 86400} +0000".encode()
        message = f"change {changed_key(number) if number else 'initial config'}\n".encode()
        stream += [b"commit refs/heads/main\n", b"author " + who + b"\ncommitter " + who + b"\n"]
        stream.append(b"data %d\n%s" % (len(message), message))
        for name, content in config_files(version).items():
            data = content.encode()
            stream.append(f"M 100644 inline conf/{name}\n".encode())
            stream.append(b"data %d\n%s\n" % (len(data), data))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: what a step costs, whatever the load."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def naive_per_commit(repo: Path, sample: int) -> tuple[float, float]:
    """git archive + a fresh Hydra compose per commit, the way a script without cfgtrack would.

    Returns the median wall time and CPU time per commit, in ms.
    """
    shas = subprocess.run(
        ["git", "rev-list", "--first-parent", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.split()
    step = max(len(shas) // sample, 1)
    points = [(sha, "conf", "config") for sha in shas[::step][:sample]]
    return naive_compose(repo, points, ["env=prod"])


def naive_compose(
    repo: Path, points: list[tuple[str, str, str]], overrides: list[str]
) -> tuple[float, float]:
    """Median wall and CPU ms of archive + Hydra compose + resolve + flatten at each
    ``(commit, config folder, config name)``; a config that does not compose counts too."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from cfgtrack.config.flatten import flatten

    walls, cpus = [], []
    for sha, conf, name in points:
        started, used = time.perf_counter(), cpu_seconds()
        with tempfile.TemporaryDirectory() as folder:
            archive = subprocess.run(
                ["git", "archive", sha, conf], cwd=repo, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
            try:
                with initialize_config_dir(str(Path(folder) / conf), version_base="1.3"):
                    config = compose(name, overrides)
                flatten(OmegaConf.to_container(config, resolve=True))
            except Exception:  # a broken commit costs what Hydra spent finding out
                pass
        walls.append(time.perf_counter() - started)
        cpus.append(cpu_seconds() - used)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


CORPUS = ROOT.parent / "shared" / "corpus"
LONGEST = "NeMo-Framework-Launcher"


def corpus_longest(repeats: int, sample: int) -> None:
    """The corpus's longest history: naive against cold, then the warm re-run."""
    import csv

    from cfgtrack.ages.history import load_histories
    from cfgtrack.settings import load_settings

    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / LONGEST
        bundle = CORPUS / f"{LONGEST}.bundle"
        subprocess.run(["git", "clone", "-q", str(bundle), str(repo)], check=True)
        os.environ["XDG_CACHE_HOME"] = str(Path(folder) / "xdg")
        with (CORPUS / f"{LONGEST}.compose-hydra-1.3.8.tsv").open(newline="") as handle:
            rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["primary"] != "-"]
        points = [
            (r["bundle_commit"], *r["primary"].rsplit("/", 1)) for r in rows[:: len(rows) // sample]
        ]
        points = [(sha, conf, name.removesuffix(".yaml")) for sha, conf, name in points]
        naive_runs = [naive_compose(repo, points, []) for _ in range(repeats)]
        naive = statistics.median(wall for wall, _ in naive_runs)
        naive_cpu = statistics.median(cpu for _, cpu in naive_runs)
        (repo / "pyproject.toml").write_text(
            '[tool.cfgtrack]\nconfig_dir = "launcher_scripts/conf"\n'
        )
        runs = [cold_walk(repo, 1) for _ in range(repeats)]
        composed = runs[0]["composed"]
        wall = statistics.median(run["seconds"] for run in runs) * 1000 / composed
        cpu = statistics.median(run["cpu"] for run in runs) * 1000 / composed
        print(
            f"{LONGEST}: naive {naive:.0f} ms per config commit (CPU {naive_cpu:.0f} ms, "
            f"{len(points)} sampled); cfgtrack cold walk, one process: {runs[0]['walked']} "
            f"commits walked, {composed} composed, {wall:.0f} ms per composed commit = "
            f"{wall / naive:.2f}x naive (CPU {cpu:.0f} ms = {cpu / naive_cpu:.2f}x)",
            flush=True,
        )
        settings = load_settings(repo)
        load_histories(settings, [None], worktree=False)  # fill the repository's cache
        warm = []
        for _ in range(repeats):
            started = time.perf_counter()
            load_histories(settings, [None], worktree=False)
            warm.append(time.perf_counter() - started)
        command = [CFGTRACK, "stale", "--format", "json"]
        warm_cli = statistics.median(timed(command, repo) for _ in range(repeats))
        print(
            f"{LONGEST}: warm re-run, walk alone {statistics.median(warm) * 1000:.0f} ms; "
            f"`cfgtrack stale` {warm_cli:.2f} s (interpreter start included)",
            flush=True,
        )


def walk_once(repo: Path, cache_file: Path, workers: int, rev: str) -> dict[str, float]:
    """One cold walk in this process (the ``--child`` mode); what the parent reports.

    The generated repository is walked with ``env=prod``; a project with settings (the corpus's
    history) with its configured folder and no env.
    """
    from cfgtrack.ages.cache import HistoryCache
    from cfgtrack.ages.history import config_folder
    from cfgtrack.ages.model import Composition
    from cfgtrack.ages.walk import walk
    from cfgtrack.settings import load_settings

    settings = load_settings(repo)
    cache = HistoryCache(cache_file)
    started, used = time.perf_counter(), cpu_seconds()
    found = walk(
        repo,
        config_folder(settings)[1],
        settings.config_name,
        [Composition("prod" if settings.source is None else None)],
        rev=rev,
        cache=cache,
        workers=workers,
        worktree=False,
    )[0]
    seconds = time.perf_counter() - started
    cache.close()
    return {
        "seconds": seconds,
        "cpu": cpu_seconds() - used,  # the walk's, as for the naive walk: imports left out
        "composed": found.composed,
        "walked": found.walked,
        "keys": len(found.current()),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def cold_walk(repo: Path, workers: int, rev: str = "HEAD") -> dict[str, float]:
    """A walk with an empty cache in a fresh process, composing in ``workers`` processes."""
    with tempfile.TemporaryDirectory() as folder:
        cache = str(Path(folder) / "cache.sqlite")
        child = [sys.executable, __file__, "--child", str(repo), cache, str(workers), rev]
        result = subprocess.run(child, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive", type=int, default=40, help="commits sampled for the naive walk")
    parser.add_argument("--corpus-only", action="store_true", help="only the corpus's history")
    parser.add_argument("--child", nargs=4, metavar=("REPO", "CACHE", "WORKERS", "REV"))
    options = parser.parse_args()
    if options.child:
        repo, cache, workers, rev = options.child
        print(json.dumps(walk_once(Path(repo), Path(cache), int(workers), rev)))
        return

    from cfgtrack.ages.history import load_histories
    from cfgtrack.ages.parallel import available_cpus
    from cfgtrack.settings import load_settings

    if (CORPUS / f"{LONGEST}.bundle").is_file():
        corpus_longest(options.repeats, options.naive)
    if options.corpus_only:
        return
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / "repo"
        started = time.perf_counter()
        generate(repo, options.commits)
        print(
            f"generated {options.commits} commits in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        os.environ["XDG_CACHE_HOME"] = str(Path(folder) / "xdg")

        naive_runs = [naive_per_commit(repo, options.naive) for _ in range(options.repeats)]
        naive = statistics.median(wall for wall, _ in naive_runs)
        naive_cpu = statistics.median(cpu for _, cpu in naive_runs)
        print(
            f"naive (git archive + fresh Hydra compose): {naive:.0f} ms per commit "
            f"(CPU {naive_cpu:.0f} ms)",
            flush=True,
        )

        cpus = available_cpus()
        for workers, label in ((cpus, f"{cpus} worker processes"), (1, "one process")):
            runs = [cold_walk(repo, workers) for _ in range(options.repeats)]
            composed = runs[0]["composed"]
            wall = statistics.median(run["seconds"] for run in runs) * 1000 / composed
            line = (
                f"cfgtrack cold walk, {label}: {composed} config-changing commits, "
                f"{wall:.0f} ms per commit ({naive / wall:.1f}x faster than naive); "
                f"{runs[0]['keys']} keys; peak RSS {max(r['rss_mb'] for r in runs):.0f} MB"
            )
            if workers == 1:  # worker processes are not children of the walk: CPU only here
                cpu = statistics.median(run["cpu"] for run in runs) * 1000 / composed
                line += f"; CPU {cpu:.0f} ms per commit ({naive_cpu / cpu:.1f}x less than naive)"
            print(line, flush=True)
        quarter = cold_walk(repo, 1, f"HEAD~{options.commits * 3 // 4}")
        print(
            f"memory bound: one process walking {quarter['walked']} commits peaks at "
            f"{quarter['rss_mb']:.0f} MB (all {options.commits}: see above)",
            flush=True,
        )

        settings = load_settings(repo)
        load_histories(settings, ["prod"])  # fill the repository's own cache
        command = [CFGTRACK, "history", "section1.key1", "--env", "prod", "--format", "json"]
        warm_cli = statistics.median(timed(command, repo) for _ in range(options.repeats))
        warm_walk = []
        for _ in range(options.repeats):
            started = time.perf_counter()
            load_histories(settings, ["prod"])
            warm_walk.append(time.perf_counter() - started)
        print(
            f"warm re-run, no new commit: `cfgtrack history KEY` {warm_cli:.2f} s "
            f"(interpreter start included); walk alone {statistics.median(warm_walk) * 1000:.0f} ms"
        )

        config = repo / "conf" / "config.yaml"
        config.write_text(config.read_text().replace("key1: ", "key1: 999", 1))
        subprocess.run(["git", "commit", "-qam", "one more change"], cwd=repo, check=True)
        started = time.perf_counter()
        found = load_histories(settings, ["prod"])[0]
        print(
            f"one new commit: walk {time.perf_counter() - started:.2f} s, "
            f"composed {found.composed} config"
        )


if __name__ == "__main__":
    main()
