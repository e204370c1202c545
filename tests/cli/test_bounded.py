"""Every read ends in bounded time with one line: an unreachable or hanging server, YAML alias
bombs and huge files, symlink loops in the config folder."""

from __future__ import annotations

import time

import pytest

from support.faults import HangingServer
from support.project import Project
from support.servers import free_port


def _one_error_line(result) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cfgtrack: error: ")
    return line


@pytest.mark.parametrize("hanging", [False, True])
def test_read_verbs_give_up_on_an_unreachable_server_within_the_timeout(
    project: Project, hanging: bool
):
    server = HangingServer() if hanging else None
    url = server.url if server else f"http://127.0.0.1:{free_port()}"
    env = {"MLFLOW_TRACKING_URI": url, "CFGTRACK_TRACKING_TIMEOUT": "2"}
    try:
        for verb in (("runs",), ("show", "0" * 32), ("diff", f"run:{'0' * 32}", "prod"), ("gc",)):
            started = time.monotonic()
            result = project.cli(*verb, env=env)
            assert time.monotonic() - started < 60  # imports + 2 s, not MLflow's 4 min of retries
            assert "cannot reach the tracking server" in _one_error_line(result)
    finally:
        if server:
            server.close()


def test_yaml_alias_bombs_and_huge_files_are_refused(project: Project):
    laughs = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(8)
    )
    (project.root / "laughs.yaml").write_text(laughs)
    started = time.monotonic()
    line = _one_error_line(project.cli("diff", "laughs.yaml", "conf/config.yaml"))
    assert "aliases expand" in line and time.monotonic() - started < 30
    with (project.root / "huge.yaml").open("w") as stream:
        stream.write("x: '" + "y" * (33 * 2**20) + "'\n")
    assert "MiB" in _one_error_line(project.cli("diff", "huge.yaml", "conf/config.yaml"))


def test_symlink_loops_in_the_config_folder_do_not_hang_diff_or_a_run(project: Project):
    before = project.cli("diff", "staging", "prod")
    (project.root / "conf" / "model" / "up").symlink_to("..")
    (project.root / "conf" / "env" / "loop").symlink_to("../env")
    started = time.monotonic()
    after = project.cli("diff", "staging", "prod")
    assert (after.returncode, after.stdout) == (before.returncode, before.stdout)
    assert time.monotonic() - started < 60
    assert project.run(timeout=120).returncode == 0
