"""Environment capture: the facts about the machine and packages that land in a run's record."""

from __future__ import annotations

import getpass
import json
import os
import platform
import sys
import textwrap
import time
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest

from cfgtrack.record.capture import environment
from cfgtrack.record.capture.environment import capture_environment, installed_packages

SMI_SUMMARY = """\
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.104.05             Driver Version: 535.104.05   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
|   0  NVIDIA A100-SXM4-80GB          On  | 00000000:07:00.0 Off |                    0 |
+-----------------------------------------+----------------------+----------------------+
"""
SMI_CSV = "NVIDIA A100-SXM4-80GB, 81920, 535.104.05\nNVIDIA A100-SXM4-40GB, 40960, 535.104.05\n"


def fake_nvidia_smi(folder: Path, body: str) -> Path:
    """An executable ``nvidia-smi`` shell script in ``folder``, first on PATH via the caller."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return folder


@pytest.fixture
def fresh_package_cache():
    installed_packages.cache_clear()
    yield
    installed_packages.cache_clear()


def test_machine_facts_match_the_running_interpreter() -> None:
    captured = capture_environment([])

    assert captured["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    assert captured["os"]["system"] == platform.system()
    assert captured["os"]["machine"] == platform.machine()
    assert captured["os"]["release"] == platform.release()
    assert captured["hostname"] == platform.node()
    assert captured["user"] == getpass.getuser()
    assert captured["cpu_count"] == os.cpu_count()
    meminfo = Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0]
    assert captured["memory_total_bytes"] == pytest.approx(int(meminfo) * 1024, rel=0.01)
    assert captured["env_vars"] == {}
    assert json.loads(json.dumps(captured)) == captured


def test_packages_list_every_distribution_with_its_installed_version(fresh_package_cache) -> None:
    packages = capture_environment([])["packages"]

    assert packages["mlflow"] == version("mlflow")
    assert packages["GitPython"] == version("gitpython")
    assert packages["hydra-core"] == version("hydra-core")
    assert packages["cfgtrack"] == version("cfgtrack")
    keys = [name.lower().replace("_", "-") for name in packages]
    assert keys == sorted(keys)


def test_a_shadowed_duplicate_distribution_does_not_replace_the_imported_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_package_cache
) -> None:
    for folder, name, number in [
        ("mlflow-0.0.1.dist-info", "mlflow", "0.0.1"),
        ("tiny_extra-1.2.3.dist-info", "tiny-extra", "1.2.3"),
    ]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {number}\n\nName: not-a-header\n"
        )
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path)])

    packages = capture_environment([])["packages"]

    assert packages["mlflow"] == version("mlflow")
    assert packages["tiny-extra"] == "1.2.3"
    assert "not-a-header" not in packages


def test_allowlist_globs_select_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("SLURM_", "OMP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setenv("slurm_lowercase", "not matched: globs are case-sensitive")
    monkeypatch.setenv("API_TOKEN", "never recorded")

    captured = capture_environment(["SLURM_*", "OMP_NUM_THREADS", "NOT_SET"])

    assert captured["env_vars"] == {
        "OMP_NUM_THREADS": "4",
        "SLURM_ARRAY_TASK_ID": "7",
        "SLURM_JOB_ID": "4242",
    }


def test_gpus_are_read_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = f"""\
        if [ "$1" = "--query-gpu=name,memory.total,driver_version" ]; then
        printf '{SMI_CSV}'
        else
        cat <<'EOF'
        {textwrap.indent(SMI_SUMMARY, "        ").lstrip()}EOF
        fi
        """
    folder = fake_nvidia_smi(tmp_path / "bin", body)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    gpu = capture_environment([])["gpu"]

    assert gpu == {
        "devices": [
            {"name": "NVIDIA A100-SXM4-80GB", "memory_total_mb": 81920, "driver": "535.104.05"},
            {"name": "NVIDIA A100-SXM4-40GB", "memory_total_mb": 40960, "driver": "535.104.05"},
        ],
        "cuda_version": "12.2",
        "source": "nvidia-smi",
    }


def test_failing_or_hanging_nvidia_smi_means_no_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = fake_nvidia_smi(
        tmp_path / "failing",
        "echo 'NVIDIA-SMI has failed because it could not communicate with the driver.'\nexit 9\n",
    )
    hanging = fake_nvidia_smi(tmp_path / "hanging", "exec sleep 30\n")
    monkeypatch.setattr(environment, "NVIDIA_SMI_TIMEOUT_SECONDS", 0.5)

    monkeypatch.setenv("PATH", str(failing))
    assert capture_environment([])["gpu"] is None
    monkeypatch.setenv("PATH", str(hanging))
    started = time.monotonic()
    assert capture_environment([])["gpu"] is None
    assert time.monotonic() - started < 5


def test_gpu_comes_from_torch_only_when_the_program_imported_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert capture_environment([])["gpu"] is None
    assert "torch" not in sys.modules

    device = SimpleNamespace(name="NVIDIA L4", total_memory=23034 * 1024 * 1024)
    torch = SimpleNamespace(
        cuda=SimpleNamespace(
            is_available=lambda: True,
            device_count=lambda: 1,
            get_device_properties=lambda index: device,
        ),
        version=SimpleNamespace(cuda="12.1"),
    )
    monkeypatch.setitem(sys.modules, "torch", torch)

    assert capture_environment([])["gpu"] == {
        "devices": [{"name": "NVIDIA L4", "memory_total_mb": 23034, "driver": None}],
        "cuda_version": "12.1",
        "source": "torch",
    }
