"""A ``cfgtrack`` command as a forked child of a process that has already imported the heavy
libraries (MLflow, Hydra, deepdiff, GitPython), so a test's command skips the ~2 s of imports
a fresh interpreter spends before any of cfgtrack's own work.

The child is a process of its own: it gets the command's working directory, its whole
environment, stdout and stderr as files and stdin from ``/dev/null``; it runs the console
script's entry point and ends as an interpreter does (atexit handlers, threads joined, streams
flushed), so its exit code and output are the command's. Only the imports are shared, and they
ran in a clean environment, printing nothing (``start`` refuses otherwise). A command whose
environment changes how an interpreter starts (``PYTHON*``, locale) is not given here:
``support.cli.cfgtrack`` starts it as a fresh process.

This file runs as the server (``python cli_forks.py``) and is imported by the tests' side.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

PRELOADED = (
    "mlflow",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.tracking.rest_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "hydra",
    "hydra.compose",
    "omegaconf",
    "deepdiff",
    "git",
    "yaml",
    "rich.console",
    "rich.table",
    "rich.progress",
    "cfgtrack.cli.app",
)
# What a fresh interpreter reads as it starts, not when it runs: a command that sets any of
# these differently from the server's environment gets a fresh process. ``PYTHONPATH`` is the
# exception: a child puts its folders where the interpreter would, after the script's own.
STARTUP_SETTINGS = ("PYTHON", "LC_", "LANG", "LANGUAGE")
SEARCH_PATH = "PYTHONPATH"


def _startup(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_SETTINGS) and k != SEARCH_PATH}


class ForkServer:
    """One server per test process, started on first use; ``run`` is ``subprocess.run`` for
    one ``cfgtrack`` command."""

    def __init__(self, python: str, program: str, env: Mapping[str, str]) -> None:
        self.env = {k: v for k, v in env.items() if k != SEARCH_PATH}
        self._lock = threading.Lock()
        with tempfile.TemporaryFile() as errors:
            self._process = subprocess.Popen(
                [python, "-P", __file__, program],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=self.env,
                cwd=tempfile.gettempdir(),
            )
            ready = self._process.stdout.readline()
            errors.seek(0)
            printed = errors.read().decode(errors="replace")
        if ready.strip() != b"ready" or printed:
            self._process.kill()
            raise RuntimeError(f"the cfgtrack fork server did not start cleanly:\n{printed}")

    def accepts(self, env: Mapping[str, str]) -> bool:
        return self._process.poll() is None and _startup(env) == _startup(self.env)

    def run(
        self, args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float, merge: bool
    ) -> subprocess.CompletedProcess[str]:
        """``cfgtrack <args>`` in a forked child; stderr joins stdout when ``merge``."""
        with self._lock, tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder, "out"), Path(folder, "err")
            request = {
                "args": list(args),
                "cwd": str(cwd),
                "env": dict(env),
                "out": str(out),
                "err": str(out if merge else err),
            }
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
            pid = json.loads(self._process.stdout.readline())["pid"]
            if not select.select([self._process.stdout], [], [], timeout)[0]:
                os.kill(pid, signal.SIGKILL)
                self._process.stdout.readline()
                raise subprocess.TimeoutExpired([*args], timeout)
            code = json.loads(self._process.stdout.readline())["code"]
            stdout = out.read_text(errors="replace") if out.exists() else ""
            stderr = None if merge else (err.read_text(errors="replace") if err.exists() else "")
        return subprocess.CompletedProcess([*args], code, stdout, stderr)

    def close(self) -> None:
        self._process.kill()
        self._process.wait()


def _serve(requests: int, replies: int) -> dict:
    """Fork a child per request and answer with its pid, then its exit code; in the child,
    return its request."""
    with os.fdopen(requests, "rb", buffering=0) as incoming:
        for line in iter(incoming.readline, b""):
            request = json.loads(line)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os.close(replies)
                return request
            os.write(replies, json.dumps({"pid": pid}).encode() + b"\n")
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            os.write(replies, json.dumps({"code": code}).encode() + b"\n")
    sys.exit(0)


def _become(request: dict, program: str) -> None:
    """Turn this forked child into the command of ``request``."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    import time

    time.tzset()
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for source, target in ((null, 0), (out, 1), (err, 2)):
        os.dup2(source, target)
        os.close(source)
    sys.argv = [program, *request["args"]]
    sys.path[1:1] = [path for path in request["env"].get(SEARCH_PATH, "").split(os.pathsep) if path]


def main() -> None:
    program = sys.argv[1]
    sys.path.insert(0, str(Path(program).parent))  # where the console script runs from
    from importlib import import_module

    for name in PRELOADED:
        import_module(name)
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.write(replies, b"ready\n")
    os.dup2(null, 1)
    os.close(null)
    request = _serve(requests, replies)
    _become(request, program)
    from cfgtrack.cli.app import main as command

    os._exit(_ended(command))


def _ended(command: Callable[[], object]) -> int:
    """Run ``command`` and end as an interpreter does, less tearing down the preloaded modules
    (a second or more of garbage collection that a fresh process of the command would not
    have): threads joined, atexit handlers run, streams flushed; the exit code."""
    try:
        command()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    threading._shutdown()  # what the interpreter does first as it ends
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    return code


def _exit_code(value: object) -> int:
    """The exit code an interpreter ends with for ``sys.exit(value)``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


if __name__ == "__main__":
    main()
