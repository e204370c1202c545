"""cfgtrack composes each corpus project's config at a commit exactly when Hydra does, to the
same config, and resolves every distinct config exactly as OmegaConf does (see
tests/support/corpus_verdicts.py for the method and the honest differences)."""

from __future__ import annotations

import pytest

from support.corpus import LONGEST, clone, corpus, projects
from support.corpus_verdicts import agreement


@pytest.mark.slow
@pytest.mark.parametrize("project", [name for name in projects() if name != LONGEST])
def test_composes_exactly_when_hydra_does(
    project: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    corpus()
    result = agreement(project, clone(project, tmp_path_factory.mktemp("corpus") / project))

    assert result.disagreements == []
    assert result.with_hydra[1] > 0 and result.with_tsv[1] > 0
    assert 0 < result.resolved[0] == result.resolved[1]
