"""The time and weather stages follow each scene's own continuity unless the artist overrides one scene or all."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PIL import Image
from sqlmodel import select

from models.assets import Asset
from models.base import Stage
from models.references import Scene, SceneUpdate
from models.runs import Job
from services.errors import Invalid
from services.references import scenes as scenes_svc
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest


def drain(sessions, store, run_id: str) -> None:
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))


@pytest.fixture
def styled(sessions, store, demo):  # noqa: ANN201
    """Every demo scene with an approved style baseline, so the time stage can run."""
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
    drain(sessions, store, run_id)
    with sessions() as s:
        for job in review.run_review(s, demo.id, run_id):
            review.decide(s, demo.id, job.candidates[0].id, 'approve')
    return demo


def test_time_stage_defaults_to_each_scenes_own_time(sessions, styled) -> None:
    with sessions() as s:
        plan, _ = runs.plan(s, styled, RunRequest(stage=Stage.time))
    assert [(j.scene_name, j.time) for j in plan.jobs] == [
        ('Launch pad', 'day'),
        ('Café table', 'day'),
        ('Night street', 'night'),
    ]
    assert plan.jobs[0].target == "time day (the scene's own)" and not any(j.blocked for j in plan.jobs)
    assert 'Change only the time of day to day' in plan.jobs[0].prompt
    assert 'Change only the time of day to night' in plan.jobs[2].prompt


def test_one_scene_or_all_can_be_overridden(sessions, styled) -> None:
    with sessions() as s:
        street = s.exec(select(Scene).where(Scene.name == 'Night street')).one().id
        one = RunRequest(stage=Stage.time, scene_targets={street: {'time': 'dusk'}})
        plan, _ = runs.plan(s, styled, one)
        assert [j.time for j in plan.jobs] == ['day', 'day', 'dusk']
        assert plan.jobs[2].target == 'time dusk (set for this scene)'
        every = RunRequest(stage=Stage.time, time='night', scene_targets={street: {'time': 'dusk'}})
        plan, _ = runs.plan(s, styled, every)
        assert [j.time for j in plan.jobs] == ['night', 'night', 'dusk']
        assert plan.jobs[0].target == 'time night (set for every scene)'
        with pytest.raises(Invalid, match='Time must be one of'):
            runs.plan(s, styled, RunRequest(stage=Stage.time, scene_targets={street: {'time': 'noon'}}))


def test_a_scene_without_a_time_is_blocked_with_the_reason(sessions, styled) -> None:
    with sessions() as s:
        pad = s.exec(select(Scene).where(Scene.name == 'Launch pad')).one()
        scenes_svc.update_scene(s, styled.id, pad.id, SceneUpdate(continuity={'weather': 'clear'}))
    with sessions() as s:
        plan, _ = runs.plan(s, styled, RunRequest(stage=Stage.weather))
        assert [j.weather for j in plan.jobs] == ['clear', 'clear', 'clear']
        plan, _ = runs.plan(s, styled, RunRequest(stage=Stage.time))
    assert 'no time in its continuity' in plan.jobs[0].blocked and not plan.jobs[1].blocked


def test_a_day_scene_stays_day_in_the_pixels(sessions, store, styled) -> None:
    with sessions() as s:
        run_id = runs.start(s, styled, RunRequest(stage=Stage.time, candidates=1, mode='run')).run_id
    drain(sessions, store, run_id)
    with sessions() as s:
        jobs = s.exec(select(Job).where(Job.run_id == run_id).order_by(Job.index)).all()
        assert [j.params['time'] for j in jobs] == ['day', 'day', 'night']
        views = review.run_review(s, styled.id, run_id)
        paths = [store.path_of(styled, s.get(Asset, v.candidates[0].asset.id)) for v in views]
        bases = [store.root(styled) / v.inputs[0]['path'] for v in views]
    light = [float(np.asarray(Image.open(p).convert('L')).mean()) for p in paths]
    base = [float(np.asarray(Image.open(p).convert('L')).mean()) for p in bases]
    assert light[0] > 0.8 * base[0] and light[1] > 0.8 * base[1]  # day stays bright
    assert light[2] < 0.8 * base[2]  # the night scene is graded to night
