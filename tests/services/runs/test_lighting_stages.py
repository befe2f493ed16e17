"""A stage that changes the light on purpose (time, weather) is not failed for the light it was asked to change:
style is judged on the picture with the lighting difference taken out, so a night or dusk grade of an on-style
panel passes and approve-best finds a winner for every scene."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.assets import QualityReport
from models.base import Stage
from models.runs import Candidate
from services.review import best as review_best
from services.runs import control as runs
from services.runs.plan import RunRequest
from tests.services.runs.test_scene_targets import drain, styled  # noqa: F401  (the fixture)


@pytest.mark.parametrize(('stage', 'target'), [(Stage.time, {'time': 'night'}), (Stage.time, {'time': 'dusk'})])
def test_a_relit_panel_keeps_its_style_and_gets_approved(sessions, store, styled, stage, target) -> None:  # noqa: F811
    with sessions() as s:
        run_id = runs.start(s, styled, RunRequest(stage=stage, candidates=2, mode='run', **target)).run_id
    drain(sessions, store, run_id)
    with sessions() as s:
        reports = s.exec(
            select(QualityReport)
            .join(Candidate, Candidate.id == QualityReport.candidate_id)
            .where(Candidate.run_id == run_id)
        ).all()
        styles = [r.metrics['style'] for r in reports if 'style' in r.metrics]
        assert len(styles) == 6 and all(m['extra'].get('relit') for m in styles), styles
        assert all(m['verdict'] != 'fail' for m in styles), [(m['value'], m['detail']) for m in styles]
        best = review_best.approve_best(s, styled.id, stage.value, run_id=run_id)
    assert len(best.approved) == 3 and not best.unresolved, best.unresolved
