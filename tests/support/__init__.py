"""What the tests share: real tracking servers and the faults between them, the tracked test
project, the ``cfgtrack`` command as a user runs it, and real git repositories."""

from pathlib import Path

# The cfgtrack checkout: its example project, CI workflows and pre-commit hook are tested too.
REPO_ROOT = Path(__file__).resolve().parents[2]
