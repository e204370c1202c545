"""The corpus's longest history (401 config commits) on its own, so that test workers share the
differential check (see tests/support/corpus_verdicts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.corpus import LONGEST, clone
from support.corpus_verdicts import agreement


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~60 s on an idle 2-core machine; other suites' load can make it 5x
def test_longest_history_composes_exactly_when_hydra_does(tmp_path: Path) -> None:
    result = agreement(LONGEST, clone(LONGEST, tmp_path / LONGEST))

    assert result.disagreements == []
    assert result.with_tsv[1] == 2 * 399  # both version bases at every commit with a primary
    assert result.resolved[1] >= 170  # distinct configs, each resolved alike by both
