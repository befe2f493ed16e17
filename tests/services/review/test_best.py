"""Approve-best: per scene the top-ranked candidate that passed QA, never a failing one, never over the artist's pick."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models.assets import Asset
from models.base import ReviewState, Stage
from models.project import ProjectUpdate
from services.errors import Invalid, NotFound
from services.projects import projects
from services.references import scenes as scenes_svc
from services.review import best
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest


@pytest.fixture
def data_dir(demo_data_dir):
    return demo_data_dir


def run_stage(sessions, store, project, scene_ids: list[str], **kw) -> str:
    with sessions() as s:
        req = RunRequest(mode='run', scene_ids=scene_ids, **{'stage': Stage.style, 'candidates': 2} | kw)
        run_id = runs.start(s, projects.get_project(s, project.slug), req).run_id
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))
    return run_id


def test_approve_best_takes_the_top_passing_candidate_and_lists_the_rest(sessions, store, demo) -> None:
    with sessions() as s:
        one, two, three = scenes_svc.list_scenes(s, demo.id)
    run_id = run_stage(sessions, store, demo, [one.id, two.id])
    with sessions() as s:
        projects.update_project(s, demo.slug, ProjectUpdate(settings={'qa': {'min_width': 4096}}))
    failing = run_stage(sessions, store, demo, [three.id])  # every candidate is too small now: a hard failure
    with sessions() as s:
        first = {v.scene_id: v for v in review.run_review(s, demo.id, run_id)}
        by_hand = first[two.id].candidates[-1]  # the artist prefers the lower-ranked one for scene two
        review.decide(s, demo.id, by_hand.id, 'approve')
        result = best.approve_best(s, demo.id, 'style')
    assert [p.scene for p in result.approved] == [one.name]
    top = first[one.id].candidates[0]
    assert top.rank == 1 and top.verdict in best.PASSING
    assert result.approved[0].candidate_id == top.id and result.approved[0].run_id == run_id
    assert [(p.scene, p.asset_id) for p in result.kept] == [(two.name, by_hand.asset.id)]
    assert [u.scene for u in result.unresolved] == [three.name]
    assert 'none of its 2 candidate(s) passed QA (2 failed QA)' in result.unresolved[0].reason
    with sessions() as s:
        approved = s.exec(select(Asset).where(Asset.project_id == demo.id, Asset.status == ReviewState.approved)).all()
        assert {a.id for a in approved} == {top.asset.id, by_hand.asset.id}
        (job,) = review.run_review(s, demo.id, failing)
        assert all(c.verdict == 'fail' and c.review_state == 'generated' for c in job.candidates)
        again = best.approve_best(s, demo.id)  # the latest run's stage; nothing new to approve
    assert again.stage == 'style' and not again.approved and len(again.kept) == 2


def test_review_run_picks_the_newest_run_of_a_stage_and_refuses_bad_input(sessions, store, demo) -> None:
    with sessions() as s:
        with pytest.raises(NotFound, match='no runs at the time stage'):
            best.review_run(s, demo.id, stage='time')
        with pytest.raises(Invalid, match='Stage must be one of'):
            best.approve_best(s, demo.id, 'dawn')
        scene = scenes_svc.list_scenes(s, demo.id)[0]
    older = run_stage(sessions, store, demo, [scene.id], candidates=1)
    newer = run_stage(sessions, store, demo, [scene.id], candidates=1)
    with sessions() as s:
        run, jobs = best.review_run(s, demo.id, stage='style')
        assert run.id == newer and [j.scene for j in jobs] == [scene.name]
        assert best.review_run(s, demo.id, run_id=older)[0].id == older
        with pytest.raises(Invalid, match='is a style run, not time'):
            best.review_run(s, demo.id, stage='time', run_id=older)
        cand = jobs[0].candidates[0]
        assert best.find_candidate(s, cand.id[:8]).id == cand.id
        with pytest.raises(Invalid, match='6 to 32 hex'):
            best.find_candidate(s, 'abc%')
        with pytest.raises(NotFound):
            best.find_candidate(s, '000000')
