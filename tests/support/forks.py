"""Commands and apps as forked children of a process that has already imported the heavy
libraries (MLflow, Hydra, GitPython, ...), so a test's ``cfgtrack`` command or tracked app run
skips the ~2 s of imports a fresh interpreter spends before any of its own work.

The child is a process of its own: it gets the working directory, the whole environment,
stdout and stderr as files and stdin from ``/dev/null``; it runs the console script's entry
point, or the app's script as ``__main__`` with the script's folder first on ``sys.path``, and
ends as an interpreter does (threads joined, atexit handlers run, streams flushed, an
uncaught ``KeyboardInterrupt`` ending it by SIGINT), so its exit code and output are the
command's. Only imports are shared, made in a clean environment and printing nothing (the
server refuses to start otherwise). The app server imports no cfgtrack module: the app imports
cfgtrack itself, as it would. An environment that changes how an interpreter starts
(``PYTHON*`` other than ``PYTHONPATH``, locale) gets a fresh process.

This file runs as a server (see ``BOOT``) and is imported by the tests' side.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

THIRD_PARTY = (
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
)
COMMANDS = (*THIRD_PARTY, "cfgtrack.cli.app")
# What a fresh interpreter reads as it starts, not when it runs: a command that sets any of
# these differently from the server's environment gets a fresh process. ``PYTHONPATH`` is the
# exception: a child puts its folders where the interpreter would, after the script's own.
STARTUP_SETTINGS = ("PYTHON", "LC_", "LANG", "LANGUAGE")
SEARCH_PATH = "PYTHONPATH"
# Started as ``python -c``, without this folder on ``sys.path`` (its ``git.py`` would shadow
# GitPython's) and without an interpreter flag that the children would pass on to the
# processes they start (joblib's workers copy them).
BOOT = "import runpy, sys; sys.path.pop(0); runpy.run_path({path!r}, run_name='__main__')"


def _startup(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_SETTINGS) and k != SEARCH_PATH}


class ForkServer:
    """A server for one test process, with ``preload`` imported; ``run`` is
    ``subprocess.run`` for one command: ``program`` (a console script) or a Python script."""

    def __init__(self, python: str, preload: Sequence[str], env: Mapping[str, str]) -> None:
        self.env = {k: v for k, v in env.items() if k != SEARCH_PATH}
        self._lock = threading.Lock()
        self._pending = b""
        with tempfile.TemporaryFile() as errors:
            self._process = subprocess.Popen(
                [python, "-c", BOOT.format(path=__file__), *preload],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=self.env,
                cwd=tempfile.gettempdir(),
            )
            ready = self._reply(deadline=None)
            errors.seek(0)
            printed = errors.read().decode(errors="replace")
        if ready != {"ready": True} or printed:
            self._process.kill()
            raise RuntimeError(f"a test fork server did not start cleanly:\n{printed}")

    def accepts(self, env: Mapping[str, str]) -> bool:
        """True when a child of this server starts as a fresh process in ``env`` would."""
        return self._process.poll() is None and _startup(env) == _startup(self.env)

    def run(
        self,
        program: str,
        args: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        merge: bool = False,
        script: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``program <args>`` in a forked child (``script``: run ``program`` as a Python
        script); stderr joins stdout when ``merge``."""
        with self._lock, tempfile.TemporaryDirectory() as folder:
            out, err = Path(folder, "out"), Path(folder, "err")
            request = {
                "program": program,
                "script": script,
                "args": list(args),
                "cwd": str(cwd),
                "env": dict(env),
                "out": str(out),
                "err": str(out if merge else err),
            }
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
            pid = self._reply(deadline=None)["pid"]
            ended = self._reply(deadline=time.monotonic() + timeout)
            if ended is None:
                os.kill(pid, signal.SIGKILL)
                self._reply(deadline=None)
                raise subprocess.TimeoutExpired([program, *args], timeout)
            stdout = out.read_text(errors="replace") if out.exists() else ""
            stderr = None if merge else (err.read_text(errors="replace") if err.exists() else "")
        return subprocess.CompletedProcess([program, *args], ended["code"], stdout, stderr)

    def _reply(self, deadline: float | None) -> dict | None:
        """The server's next line, or None once ``deadline`` (monotonic) has passed."""
        source = self._process.stdout.fileno()
        while b"\n" not in self._pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([source], [], [], left)[0]:
                return None
            chunk = os.read(source, 65536)
            if not chunk:
                raise RuntimeError("a test fork server ended")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

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


def _become(request: dict) -> Callable[[], object]:
    """Turn this forked child into the process of ``request``; what it is to run."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for source, target in ((null, 0), (out, 1), (err, 2)):
        os.dup2(source, target)
        os.close(source)
    program = request["program"]
    sys.argv = [program, *request["args"]]
    first = Path(program).resolve().parent if request["script"] else Path(program).parent
    searched = [path for path in request["env"].get(SEARCH_PATH, "").split(os.pathsep) if path]
    sys.path[0:0] = [str(first), *searched]
    if request["script"]:
        return lambda: runpy.run_path(program, run_name="__main__")
    from cfgtrack.cli.app import main as command

    return command


def _ended(command: Callable[[], object]) -> int:
    """Run ``command`` and end as an interpreter does, less tearing down the preloaded modules
    (a second or more of garbage collection that a fresh process would not have): the
    traceback of an uncaught error, threads joined, atexit handlers run, streams flushed; the
    exit code."""
    interrupted = False
    try:
        command()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
        interrupted, code = isinstance(exc, KeyboardInterrupt), 1
    threading._shutdown()  # what the interpreter does first as it ends
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    if interrupted:  # CPython ends by SIGINT after an uncaught KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


def _exit_code(value: object) -> int:
    """The exit code an interpreter ends with for ``sys.exit(value)``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def main() -> None:
    from importlib import import_module

    for name in sys.argv[1:]:
        import_module(name)
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.write(replies, b'{"ready": true}\n')
    os.dup2(null, 1)
    os.close(null)
    request = _serve(requests, replies)
    os._exit(_ended(_become(request)))


if __name__ == "__main__":
    main()
