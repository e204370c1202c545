"""The HTML reports opened in Debian's headless chromium, as a reader would open them: with no
network, as a DOM dump or a screenshot."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    """Debian's chromium, which ``make test`` installs (scripts/install-system-deps.sh)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is needed to check the HTML report: make system-deps installs it")
    pytest.skip("chromium is not installed (make system-deps installs it)")


def browse(html: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium on the file, with no network (the report must not need it)."""
    profile = html.parent / "chromium-profile"
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",  # no network: the file must not need it
            *args,
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def pixels_near(screenshot: Path, colour: tuple[int, int, int], tolerance: int = 30) -> int:
    """How many pixels of ``screenshot`` are within ``tolerance`` of ``colour`` (RGB)."""
    from PIL import Image

    pixels = Image.open(screenshot).convert("RGB").getdata()
    return sum(
        1 for p in pixels if sum(abs(a - b) for a, b in zip(p, colour, strict=True)) < tolerance
    )
