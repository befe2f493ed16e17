"""Review: one approved winner per scene, immutable, and the next stage takes it as input automatically."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models.assets import Asset
from models.base import ReviewState, Stage
from services.errors import Invalid
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest


def run_stage(sessions, store, demo, req: RunRequest) -> str:
    with sessions() as s:
        run_id = runs.start(s, demo, req).run_id
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))
    return run_id


def test_approve_feeds_the_next_stage_and_variation_measures_drift(sessions, store, demo) -> None:
    run_id = run_stage(sessions, store, demo, RunRequest(stage=Stage.style, candidates=2, mode='run', scene_ids=None))
    with sessions() as s:
        jobs = review.run_review(s, demo.id, run_id)
        assert all(j.best is not None and j.best.rank == 1 for j in jobs)
        first, second = jobs[0].candidates[0], jobs[0].candidates[1]
        review.decide(s, demo.id, first.id, 'approve')
        review.decide(s, demo.id, second.id, 'approve')  # the winner changes; only one stays approved
        approved = s.exec(
            select(Asset).where(Asset.scene_id == jobs[0].scene_id, Asset.status == ReviewState.approved)
        ).all()
        assert [a.id for a in approved] == [second.asset.id] and approved[0].immutable
        with pytest.raises(Invalid):
            review.mark_retry(s, demo.id, jobs[1].scene_id, 'style', '  ')
        review.mark_retry(s, demo.id, jobs[1].scene_id, 'style', 'rocket too small')
    with sessions() as s:
        assert review.run_review(s, demo.id, run_id)[1].retry_note == 'rocket too small'
    night = run_stage(
        sessions,
        store,
        demo,
        RunRequest(stage=Stage.time, time='night', candidates=2, mode='run', scene_ids=[jobs[0].scene_id]),
    )
    with sessions() as s:
        (job,) = review.run_review(s, demo.id, night)
        assert job.inputs[0]['asset_id'] == second.asset.id
        assert all('composition' in c.metrics for c in job.candidates)
