"""A dirty run's patch is bounded and stored once: big and binary files are listed with size and
sha256, record.json refers to cfgtrack/git.patch by its digest, and the verbs read it back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from support.git import git
from support.project import Project


def _artifact(project: Project, run_id: str, name: str) -> bytes:
    return Path(project.client().download_artifacts(run_id, f"cfgtrack/{name}")).read_bytes()


def test_big_and_binary_files_are_listed_and_the_patch_is_referenced(
    project: Project, tmp_path: Path
):
    big = b"x,y\n" + b"1,2\n" * (300 * 1024)  # 1.2 MiB of text
    weights = bytes(range(256)) * 16
    (project.root / "big.csv").write_bytes(big)
    (project.root / "weights.bin").write_bytes(weights)
    (project.root / "conf/model/small.yaml").write_text("name: small\nlr: 0.2\nlayers: 2\n")
    result = project.run()
    assert result.returncode == 0, result.stderr
    [run] = project.runs()
    run_id = run.info.run_id
    patch = _artifact(project, run_id, "git.patch")
    record_bytes = _artifact(project, run_id, "record.json")
    record = json.loads(record_bytes)
    assert record["git"]["patch"] == {
        "artifact": "cfgtrack/git.patch",
        "sha256": hashlib.sha256(patch).hexdigest(),
        "bytes": len(patch),
    }
    assert b"+lr: 0.2" in patch and b"+lr: 0.2" not in record_bytes  # one copy: the artifact
    assert record["git"]["not_embedded"] == [
        {
            "path": "big.csv",
            "reason": "over the per-file limit",
            "size": len(big),
            "sha256": hashlib.sha256(big).hexdigest(),
        },
        {
            "path": "weights.bin",
            "reason": "binary",
            "size": len(weights),
            "sha256": hashlib.sha256(weights).hexdigest(),
        },
    ]
    assert b"big.csv" not in patch and b"weights.bin" not in patch

    shown = project.cli("show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "(dirty)" in shown.stdout
    written = tmp_path / "run.patch"
    reproduce = project.cli("reproduce", run_id, "--patch-out", str(written))
    assert reproduce.returncode == 0, reproduce.stderr
    assert written.read_bytes() == patch
    assert "big.csv" in reproduce.stdout and "weights.bin" in reproduce.stdout  # not in the patch

    (project.root / "big.csv").unlink()
    (project.root / "weights.bin").unlink()
    git(project.root, "checkout", "--", "conf")
    clean = project.run("model=large")
    assert clean.returncode == 0, clean.stderr
    other = project.runs()[-1].info.run_id
    compared = project.cli("diff", f"run:{run_id}", f"run:{other}", "--what", "git", "-f", "json")
    assert compared.returncode == 1, compared.stderr
    git_part = json.loads(compared.stdout)["git"]
    assert git_part["patch"]["left"] == f"sha256:{hashlib.sha256(patch).hexdigest()[:12]}"
    assert git_part["patch"]["right"] == "none"
