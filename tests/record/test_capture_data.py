"""Data fingerprints: digests a user can verify, and a cache that never hides a change."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cfgtrack.record.capture.data import fingerprint_paths

HOUR_NS = 3600 * 10**9


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def settle(*paths: Path) -> None:
    """Backdate mtimes by an hour, as for a dataset written long before the run."""
    for path in paths:
        for target in [path, *path.rglob("*")] if path.is_dir() else [path]:
            mtime = target.stat().st_mtime_ns - HOUR_NS
            os.utime(target, ns=(mtime, mtime))


def rewrite_keeping_stat(path: Path, data: bytes) -> None:
    """Change the bytes but keep size and mtime: only a re-read could notice."""
    before = path.stat()
    assert len(data) == before.st_size
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "images"
    files = {"b/2.bin": b"\x00\x01" * 1000, "a.txt": b"alpha\n", "b/1.txt": b"one\n", "c": b""}
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    (tmp_path / "data" / "train.csv").write_bytes(b"x,y\n1,2\n")
    settle(tmp_path / "data")
    return tmp_path / "data"


def test_file_digest_is_sha256_of_its_bytes(dataset: Path, tmp_path: Path) -> None:
    [entry] = fingerprint_paths(["train.csv"], dataset, tmp_path / "cache.json")

    modified = datetime.fromtimestamp((dataset / "train.csv").stat().st_mtime, timezone.utc)
    assert entry == {
        "name": "train.csv",
        "path": str(dataset / "train.csv"),
        "kind": "file",
        "sha256": sha(b"x,y\n1,2\n"),
        "size_bytes": 8,
        "files": 1,
        "newest_mtime": modified.isoformat(timespec="milliseconds"),
        "cached": False,
        "error": None,
    }
    assert json.loads(json.dumps(entry)) == entry


def test_folder_digest_folds_sorted_paths_and_file_digests(dataset: Path, tmp_path: Path) -> None:
    [entry] = fingerprint_paths({"images": "images"}, dataset, tmp_path / "cache.json")

    files = {
        "a.txt": b"alpha\n",
        "b/1.txt": b"one\n",
        "b/2.bin": b"\x00\x01" * 1000,
        "c": b"",
    }
    expected = hashlib.sha256(
        "".join(f"{name}\0{sha(content)}\n" for name, content in sorted(files.items())).encode()
    ).hexdigest()
    assert entry["kind"] == "directory"
    assert entry["sha256"] == expected
    assert entry["files"] == 4
    assert entry["size_bytes"] == sum(len(content) for content in files.values())


def test_same_content_gives_the_same_digest_wherever_it_lives(
    dataset: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere" / "images"
    shutil.copytree(dataset / "images", copy)

    original, copied = fingerprint_paths(
        [str(dataset / "images"), str(copy)], tmp_path, tmp_path / "cache.json"
    )

    assert original["sha256"] == copied["sha256"]
    assert original["path"] != copied["path"]


def test_renaming_or_adding_a_file_changes_the_folder_digest(dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    [before] = fingerprint_paths(["images"], dataset, cache)

    (dataset / "images" / "a.txt").rename(dataset / "images" / "z.txt")
    [renamed] = fingerprint_paths(["images"], dataset, cache)
    (dataset / "images" / "empty").write_bytes(b"")
    [added] = fingerprint_paths(["images"], dataset, cache)

    assert len({before["sha256"], renamed["sha256"], added["sha256"]}) == 3
    assert renamed["files"] == before["files"] and added["files"] == before["files"] + 1


def test_unchanged_data_is_not_read_again(dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "fingerprints.json"
    first = fingerprint_paths(["train.csv", "images"], dataset, cache)
    rewrite_keeping_stat(dataset / "train.csv", b"x,y\n9,9\n")
    rewrite_keeping_stat(dataset / "images" / "a.txt", b"ALPHA\n")

    second = fingerprint_paths(["train.csv", "images"], dataset, cache)

    assert [entry["cached"] for entry in first] == [False, False]
    assert [entry["cached"] for entry in second] == [True, True]
    # Had any byte been read again, the new content would have changed these digests.
    assert [entry["sha256"] for entry in second] == [entry["sha256"] for entry in first]
    assert json.loads(cache.read_text())["version"] == 2
    assert str(dataset) not in cache.read_text()  # paths are kept as digests: one may be secret


def test_a_modified_file_is_read_again(dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    fingerprint_paths(["train.csv", "images"], dataset, cache)
    (dataset / "train.csv").write_bytes(b"x,y\n3,4\n")  # same size, new mtime
    (dataset / "images" / "b" / "1.txt").write_bytes(b"uno\n")
    settle(dataset / "train.csv", dataset / "images" / "b" / "1.txt")

    csv, images = fingerprint_paths(["train.csv", "images"], dataset, cache)
    again = fingerprint_paths(["train.csv", "images"], dataset, cache)

    assert csv["cached"] is False and csv["sha256"] == sha(b"x,y\n3,4\n")
    assert images["cached"] is False
    assert [entry["cached"] for entry in again] == [True, True]
    assert again[1]["sha256"] == images["sha256"]


def test_a_file_written_moments_ago_is_not_trusted_to_the_cache(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.txt"
    fresh.write_bytes(b"v1")
    cache = tmp_path / "cache.json"

    fingerprint_paths([str(fresh)], tmp_path, cache)
    # A second write within one timestamp tick of a coarse-grained file system keeps the mtime.
    rewrite_keeping_stat(fresh, b"v2")
    [entry] = fingerprint_paths([str(fresh)], tmp_path, cache)

    assert entry["cached"] is False
    assert entry["sha256"] == sha(b"v2")


def test_missing_paths_are_reported_not_raised(
    dataset: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entries = fingerprint_paths(
        {"labels": "labels.csv", "train": "train.csv"}, dataset, tmp_path / "cache.json"
    )

    assert entries[0]["name"] == "labels" and entries[0]["error"] == "missing"
    assert entries[0]["kind"] == "missing"
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning == (
        f"cfgtrack: warning: dataset labels: {dataset / 'labels.csv'} does not exist; "
        "recorded as missing"
    )
    assert entries[0]["path"] == str(dataset / "labels.csv")
    assert entries[0]["sha256"] is None
    assert entries[1]["name"] == "train" and entries[1]["sha256"] == sha(b"x,y\n1,2\n")


def test_links_are_followed_and_loops_do_not_hang(dataset: Path, tmp_path: Path) -> None:
    images = dataset / "images"
    cache = tmp_path / "cache.json"
    [plain] = fingerprint_paths(["images"], dataset, cache)
    (images / "loop").symlink_to(images)
    (images / "dangling").symlink_to(images / "nowhere")
    (dataset / "linked").symlink_to(images)

    [looped] = fingerprint_paths(["images"], dataset, cache)
    [through_link] = fingerprint_paths(["linked"], dataset, cache)

    assert looped["sha256"] == plain["sha256"] and looped["files"] == plain["files"]
    assert through_link["sha256"] == plain["sha256"]


def test_a_corrupt_or_unwritable_cache_never_breaks_fingerprinting(
    dataset: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"version": 1, "paths": {')
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    [from_corrupt] = fingerprint_paths(["train.csv"], dataset, corrupt)
    [unwritable] = fingerprint_paths(["train.csv"], dataset, blocker / "cache.json")

    assert from_corrupt["sha256"] == unwritable["sha256"] == sha(b"x,y\n1,2\n")
    assert json.loads(corrupt.read_text())["version"] == 2


def test_processes_sharing_one_cache_never_leave_it_torn(tmp_path: Path) -> None:
    cache = tmp_path / "shared.json"
    writer = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from cfgtrack.record.capture.data import fingerprint_paths
        folder, cache = Path(sys.argv[1]), Path(sys.argv[2])
        folder.mkdir()
        for round in range(40):
            target = folder / f"file{round}.bin"
            target.write_bytes(os.urandom(50_000))
            os.utime(target, ns=(10**18, 10**18))
            [entry] = fingerprint_paths([str(folder)], folder, cache)
            assert entry["error"] is None and entry["files"] == round + 1, entry
        """
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", writer, str(tmp_path / f"w{n}"), str(cache)])
        for n in range(3)
    ]
    reads = 0
    while any(process.poll() is None for process in writers):
        if cache.exists():
            assert json.loads(cache.read_text())["version"] == 2
            reads += 1
        time.sleep(0.005)

    assert [process.returncode for process in writers] == [0, 0, 0]
    assert reads > 0
    assert not list(tmp_path.glob(".shared.json.*"))
