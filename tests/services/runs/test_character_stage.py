"""J06: the character stage draws a character into an approved scene; identity measures the drawn face for real."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from models.assets import Asset
from models.base import Stage
from models.references import Scene
from services.qa.identity import identity_check
from services.qa.thresholds import QAThresholds
from services.references import characters
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA, reference_encodings
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest


def drain(sessions, store) -> None:
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain())


def test_character_stage_accepts_the_character_and_rejects_another_face(sessions, store, demo) -> None:
    with sessions() as s:
        cafe = s.exec(select(Scene).where(Scene.project_id == demo.id, Scene.name == 'Café table')).one()
        style_run = runs.start(
            s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run', scene_ids=[cafe.id])
        ).run_id
    drain(sessions, store)
    with sessions() as s:
        (job,) = review.run_review(s, demo.id, style_run)
        review.decide(s, demo.id, job.candidates[0].id, 'approve')
        placed = runs.start(
            s, demo, RunRequest(stage=Stage.character, candidates=2, mode='run', scene_ids=[cafe.id])
        ).run_id
    drain(sessions, store)
    with sessions() as s:
        (job,) = review.run_review(s, demo.id, placed)
        assert [i['role'] for i in job.inputs].count('character') == 2  # Grace's two reference photos
        distances = []
        for cand in job.candidates:
            identity = cand.metrics['identity']
            assert identity['verdict'] == 'pass', identity['detail']
            grace = identity['extra']['characters']['Grace']
            assert grace['distance'] <= grace['pass_max'] and identity['extra']['faces_found'] >= 1
            # drawn by the scene's hand, not the reference photo pasted in (that sat within ~0.15 of itself)
            assert grace['distance'] > 0.25
            distances.append(grace['distance'])
        eileen = next(c for c in characters.list_characters(s, demo.id) if c.name == 'Eileen')
        refs = [s.get(Asset, a) for a in eileen.reference_asset_ids]
        other = [e for a in refs for e in reference_encodings(str(store.path_of(demo, a)), a.sha256)]
        image = store.path_of(demo, job.candidates[0].asset)
    result = identity_check(image, {'Grace': other}, QAThresholds())  # the same image, judged against another face
    assert result.value > distances[0] + 0.05  # the drawn face is clearly nearer Grace than Eileen
