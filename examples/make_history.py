"""Build a copy of the example project with a small, backdated git history that has stale
parameters, for ``cfgtrack stale``, ``history`` and ``report`` to show what they are for.

    python examples/make_history.py DEST

DEST (a new folder) becomes a git repository: the example's ``conf/``, ``examples/train.py`` and
its data, committed over three years with backdated author and committer dates. Prod's ``model.C``
was tuned in 2023 and never touched again; prod's serving settings date from 2023; the last
commit, ten days ago, is today's config. It records to ``DEST/mlflow.db``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUTHORS = {
    "ada": ("Ada Lovelace", "ada@example.com"),
    "bea": ("Bea Keller", "bea@example.com"),
}
PYPROJECT = """\
[tool.cfgtrack]
config_dir = "conf"
config_name = "config"
env_group = "env"
experiment = "cfgtrack-example"
"""
GITIGNORE = "mlflow.db\nmlartifacts/\noutputs/\nmultirun/\ncfgtrack-audit/\n"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"make_history: {path} no longer holds {old!r}; update this script")
    path.write_text(text.replace(old, new))


def _commit(dest: Path, message: str, when: datetime, author: str) -> None:
    name, email = AUTHORS[author]
    stamp = when.isoformat(timespec="seconds")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=dest, env=env, check=True)


def _day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=timezone.utc)


def build(dest: Path) -> None:
    """Write the project into ``dest`` commit by commit, oldest first."""
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"make_history: {dest} exists and is not empty; name a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    shutil.copytree(ROOT / "conf", dest / "conf")
    (dest / "examples" / "data").mkdir(parents=True)
    shutil.copy2(ROOT / "examples" / "train.py", dest / "examples" / "train.py")
    shutil.copy2(ROOT / "examples" / "data" / "train.csv", dest / "examples" / "data")
    (dest / "pyproject.toml").write_text(PYPROJECT)
    (dest / ".gitignore").write_text(GITIGNORE)
    conf = dest / "conf"
    config, logreg = conf / "config.yaml", conf / "model" / "logreg.yaml"
    prod, staging = conf / "env" / "prod.yaml", conf / "env" / "staging.yaml"
    # The first commit holds older values; each later one brings one back to what the example
    # ships, so the last commit is the example's config.
    _edit(config, "test_size: 0.25", "test_size: 0.2")
    _edit(logreg, "max_iter: 200", "max_iter: 100")
    _edit(staging, "replicas: 1", "replicas: 2")
    _edit(prod, "C: 0.5", "C: 0.3")
    _commit(dest, "Example classifier with staging and prod", _day(2023, 1, 16), "ada")
    _edit(prod, "C: 0.3", "C: 0.5")
    _commit(dest, "prod: C=0.5 from the spring tuning run", _day(2023, 4, 3), "ada")
    _edit(logreg, "max_iter: 100", "max_iter: 200")
    _commit(dest, "logreg: more iterations, it did not converge", _day(2024, 2, 19), "bea")
    _edit(staging, "replicas: 2", "replicas: 1")
    _commit(dest, "staging: one replica is enough", _day(2025, 6, 9), "bea")
    _edit(config, "test_size: 0.2", "test_size: 0.25")
    recent = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=10)
    _commit(dest, "Hold out a quarter of the data", recent, "ada")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="a new folder for the project")
    dest = parser.parse_args().dest.resolve()
    build(dest)
    print(f"example project with a backdated history in {dest}")


if __name__ == "__main__":
    main()
