"""The ``cfgtrack`` command as a user runs it: a process of its own (forked from a server that
has the heavy libraries imported, or a fresh one: see ``support.forks``), in a
pseudo-terminal when the test is about what a terminal shows, or in this process through the
console-script entry point.

One rule for the environment of every command and app a test starts: the caller's own MLflow and
cfgtrack settings (``MLFLOW_*``, ``CFGTRACK_*``) are removed, so a developer's shell cannot change
what a test sees; a test passes the ones it means.
"""

from __future__ import annotations

import atexit
import functools
import os
import pty
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from support.forks import COMMANDS, THIRD_PARTY, ForkServer

PYTHON = sys.executable
CFGTRACK = str(Path(sys.executable).with_name("cfgtrack"))
CALLER_SETTINGS = ("MLFLOW_", "CFGTRACK_")
MERGED_OR_PIPED = (subprocess.PIPE, subprocess.STDOUT)  # the stderr a forked command can take
# Set (to anything) to start every command and app as a fresh process, ruling the forks out.
FRESH_PROCESSES = "TESTS_FRESH_PROCESSES"
PRELOADS = {"commands": COMMANDS, "apps": THIRD_PARTY}


def caller_settings() -> list[str]:
    """The names of the caller's settings in this process's environment; in-process tests
    remove them (the ``no_caller_settings`` fixture) as ``clean_env`` does for subprocesses."""
    return [name for name in os.environ if name.startswith(CALLER_SETTINGS)]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the caller's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CALLER_SETTINGS)}
    return {**env, **(extra or {})}


def read_terminal(leader: int) -> bytes:
    """Everything shown on the pseudo-terminal whose leader end is ``leader`` until the last
    process writing to it ends; closes ``leader``."""
    shown = b""
    try:
        while chunk := os.read(leader, 65536):
            shown += chunk
    except OSError:  # the terminal closed: the command ended
        pass
    os.close(leader)
    return shown


def cfgtrack(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stderr: int = subprocess.PIPE,
    timeout: float = 120,
    program: Sequence[str] = (CFGTRACK,),
) -> subprocess.CompletedProcess[str]:
    """``cfgtrack <args>`` in ``cwd``, in a clean environment plus ``env``; never raises on
    its exit code. ``program`` is how cfgtrack is started: the console script by default, as a
    child of this test process's fork server (``support.forks``)."""
    environment = clean_env(env)
    if tuple(program) == (CFGTRACK,) and stderr in MERGED_OR_PIPED:
        server = fork_server("commands", PYTHON)
        if server is not None and server.accepts(environment):
            merge = stderr == subprocess.STDOUT
            return server.run(CFGTRACK, args, cwd, environment, timeout, merge=merge)
    return subprocess.run(
        [*program, *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=timeout,
        check=False,
    )


def fork_server(kind: str, python: str) -> ForkServer | None:
    """This test process's server for ``kind`` ("commands" or "apps") run by ``python``; None
    when ``TESTS_FRESH_PROCESSES`` is set or ``python`` is another interpreter (a virtualenv's
    of its own), which then starts a fresh process."""
    if os.environ.get(FRESH_PROCESSES) or python != PYTHON:
        return None
    return _server(kind)


@functools.cache
def _server(kind: str) -> ForkServer:
    server = ForkServer(PYTHON, PRELOADS[kind], clean_env())
    atexit.register(server.close)
    return server


def cfgtrack_in_terminal(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> tuple[int, str]:
    """``cfgtrack <args>`` with a pseudo-terminal as stdin, stdout and stderr: its exit code
    and everything the terminal showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [CFGTRACK, *args],
        cwd=cwd,
        env=clean_env(env),
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    shown = read_terminal(leader)
    return process.wait(timeout=timeout), shown.decode(errors="replace")


@dataclass(frozen=True)
class Invocation:
    """What one ``cfgtrack`` command did: exit code, stdout, stderr."""

    code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> Invocation:
    """Run ``cfgtrack <args>`` in this process through the console-script entry point, so
    usage and input errors take the same path as in a terminal."""
    from typer.testing import CliRunner

    from cfgtrack.cli import app as cli

    registered = list(cli.app.registered_commands)  # main() registers the verbs on each call
    saved_argv = sys.argv
    sys.argv = ["cfgtrack", *args]
    try:
        with CliRunner().isolation() as (stdout, stderr, _):
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            out, err = stdout.getvalue(), stderr.getvalue()
    finally:
        sys.argv = saved_argv
        cli.app.registered_commands[:] = registered
    return Invocation(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
