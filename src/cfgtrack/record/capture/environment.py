"""The machine a run ran on: Python, OS, host, CPU, memory, packages, GPUs, chosen env vars.

Everything here is read in-process (importlib.metadata, os, platform) so capture costs
milliseconds; the only subprocess is ``nvidia-smi`` when it is installed. torch is consulted only
when the user's program already imported it, and nothing here is a hard dependency.
"""

from __future__ import annotations

import functools
import getpass
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

NVIDIA_SMI_TIMEOUT_SECONDS = 5.0
_GPU_QUERY = "--query-gpu=name,memory.total,driver_version"
_CUDA_VERSION = re.compile(r"CUDA Version:\s*([0-9][0-9.]*)")


def capture_environment(allowlist: Sequence[str]) -> dict[str, Any]:
    """What a run needs to be reproduced elsewhere; ``allowlist`` holds env var name globs."""
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "version": platform.version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "hostname": socket.gethostname(),
        "user": _user(),
        "cpu_count": os.cpu_count(),
        "memory_total_bytes": memory_total_bytes(),
        "packages": dict(installed_packages()),
        "gpu": gpu_info(),
        "env_vars": allowed_env_vars(allowlist),
    }


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER variable and no passwd entry (some containers)
        return None


def allowed_env_vars(allowlist: Sequence[str]) -> dict[str, str]:
    """Environment variables whose names match one of the ``allowlist`` globs (case-sensitive)."""
    return {
        name: os.environ[name]
        for name in sorted(os.environ)
        if any(fnmatchcase(name, pattern) for pattern in allowlist)
    }


def memory_total_bytes() -> int | None:
    """Physical memory, from sysconf where it exists, else /proc/meminfo; None when unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@functools.cache
def installed_packages() -> tuple[tuple[str, str], ...]:
    """Every installed distribution as (name, version), sorted by name; cached per process.

    Reads only the METADATA header (the email parser that ``Distribution.metadata`` uses costs
    several times more). When a name is installed twice, the one found first on sys.path wins,
    as it does for imports.
    """
    from importlib.metadata import distributions

    found: dict[str, tuple[str, str]] = {}
    for dist in distributions():
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        header = dict(_header_fields(text.split("\n\n", 1)[0]))
        name, version = header.get("Name"), header.get("Version")
        if name and version:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), (name, version))
    return tuple(found[key] for key in sorted(found))


def _header_fields(header: str):
    for line in header.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in {"Name", "Version"}:
            yield key, value.strip()


def gpu_info() -> dict[str, Any] | None:
    """NVIDIA GPUs from ``nvidia-smi`` on PATH, else from an already imported torch; else None."""
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi:
        found = _nvidia_smi_gpus(nvidia_smi)
        if found:
            return found
    torch = sys.modules.get("torch")
    return _torch_gpus(torch) if torch is not None else None


@functools.cache
def _nvidia_smi_gpus(executable: str) -> dict[str, Any] | None:
    """Devices from the CSV query, the CUDA version from the summary header; cached per binary."""
    table = _run(executable, _GPU_QUERY, "--format=csv,noheader,nounits")
    if not table:
        return None
    devices = []
    for row in table.strip().splitlines():
        cells = [cell.strip() for cell in row.split(",")]
        if len(cells) != 3:
            continue
        name, memory, driver = cells
        devices.append(
            {
                "name": name,
                "memory_total_mb": int(memory) if memory.isdigit() else None,
                "driver": driver,
            }
        )
    if not devices:
        return None
    match = _CUDA_VERSION.search(_run(executable) or "")
    return {
        "devices": devices,
        "cuda_version": match.group(1) if match else None,
        "source": "nvidia-smi",
    }


def _run(*command: str) -> str | None:
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def _torch_gpus(torch: Any) -> dict[str, Any] | None:
    """GPUs as the user's own torch sees them; any failure means "no GPU information"."""
    try:
        if not torch.cuda.is_available():
            return None
        devices = []
        for index in range(torch.cuda.device_count()):
            properties = torch.cuda.get_device_properties(index)
            devices.append(
                {
                    "name": properties.name,
                    "memory_total_mb": properties.total_memory // (1024 * 1024),
                    "driver": None,
                }
            )
        return {"devices": devices, "cuda_version": torch.version.cuda, "source": "torch"}
    except Exception:
        return None
