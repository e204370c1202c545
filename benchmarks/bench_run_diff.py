"""Time ``cfgtrack diff run:A run:B`` against a real ``mlflow server``.

Run:  .venv/bin/python benchmarks/bench_run_diff.py [--repeats 9]

Starts ``mlflow server`` on 127.0.0.1 (SQLite store, proxied artifacts, two workers) and records
two runs of the test app (tests/conftest.py) with ``@cfgtrack.track`` in a real git repository:
A at the first commit, B one commit later with another model and env. Then, interleaved, after
one warm-up each, it runs as subprocesses (interpreter start included):

- ``cfgtrack diff run:A run:B`` (every aspect: config, packages, Python, platform, GPU, commits
  between the SHAs, patches, datasets);
- ``cfgtrack diff run:A run:B --what config`` (the config comparison alone);
- ``python -c "from mlflow.tracking import MlflowClient"``: the floor every MLflow-reading
  command pays (interpreter start and MLflow's import).

It prints the median wall time of each and the CPU time the process used (less moved by the
load of a shared machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CFGTRACK, PYTHON, free_port, make_project  # noqa: E402
from gitutil import commit  # noqa: E402


def start_server(base: Path) -> tuple[subprocess.Popen, str]:
    """A real ``mlflow server`` on 127.0.0.1, ready to answer."""
    port = free_port()
    mlflow_bin = shutil.which("mlflow", path=str(Path(PYTHON).parent)) or "mlflow"
    command = [mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "2", "--backend-store-uri", f"sqlite:///{base / 'server.db'}"]
    command += ["--artifacts-destination", str(base / "artifacts")]
    log = (base / "server.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=base)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"mlflow server did not start: {(base / 'server.log').read_text()}")


def record_runs(base: Path, url: str) -> tuple[Path, str, str]:
    """The project folder and the ids of runs A and B."""
    project = make_project(base, url)
    for args in ((), ("env=prod", "model=large")):
        if args:
            config = (project.root / "conf/config.yaml").read_text()
            raised = config.replace("epochs: 3", "epochs: 5")
            commit(project.root, "raise epochs", {"conf/config.yaml": raised})
        result = project.run(*args)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
    first, second = project.runs()
    return project.root, first.info.run_id, second.info.run_id


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{command} failed: {result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "server").mkdir()
        server, url = start_server(base / "server")
        try:
            root, a, b = record_runs(base, url)
            ours = ("MLFLOW_", "CFGTRACK_")
            env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
            env["MLFLOW_TRACKING_URI"] = url
            commands = {
                "cfgtrack diff run:A run:B": [CFGTRACK, "diff", f"run:{a}", f"run:{b}"],
                "cfgtrack diff run:A run:B --what config": [
                    CFGTRACK,
                    "diff",
                    f"run:{a}",
                    f"run:{b}",
                    "--what",
                    "config",
                ],
                "python + import of MLflow's client (floor)": [
                    PYTHON,
                    "-c",
                    "from mlflow.tracking import MlflowClient",
                ],
            }
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
            for round_number in range(args.repeats + 1):
                for name, command in commands.items():
                    measured = timed(command, root, env)
                    if round_number:  # the first round warms caches
                        times[name].append(measured)
        finally:
            server.terminate()
            server.wait(timeout=30)
    load = os.getloadavg()[0]
    print(f"mlflow server on 127.0.0.1, {args.repeats} interleaved runs each, load {load:.1f}")
    for name, measured in times.items():
        wall = statistics.median(w for w, _ in measured) * 1000
        cpu = statistics.median(c for _, c in measured) * 1000
        print(f"{name}: median wall {wall:,.0f} ms, CPU {cpu:,.0f} ms")


if __name__ == "__main__":
    main()
