"""A recorded plan starts in one call as exactly the run it shows, behind the same spend guard."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.base import RunMode, Stage, WorkState
from models.provider import ProviderAccountCreate
from models.references import StyleGuide
from models.runs import Candidate, Job, Run
from services.errors import Conflict, PolicyRefused
from services.providers import accounts as provider_accounts
from services.runs import control as runs
from services.runs import planned
from services.runs.plan import RunRequest
from tests.services.runs.test_scene_targets import drain


def test_start_a_plan_queues_its_own_jobs_and_runs(sessions, store, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=2)).run_id
        summary = planned.plan_summary(s, demo.id, run_id)
        assert (summary.jobs, summary.candidates, summary.cost_text) == (3, 6, 'free (offline renderer)')
        jobs_before = [j.id for j in s.exec(select(Job).where(Job.run_id == run_id))]
    with sessions() as s:
        planned.start_planned(s, demo, run_id, project_root=store.root(demo))
    with sessions() as s:
        run = s.get(Run, run_id)
        assert run.mode == RunMode.run and run.status == WorkState.queued
        assert [j.id for j in s.exec(select(Job).where(Job.run_id == run_id))] == jobs_before
        assert {c.status for c in s.exec(select(Candidate).where(Candidate.run_id == run_id))} == {WorkState.queued}
    drain(sessions, store, run_id)
    with sessions() as s:
        assert s.get(Run, run_id).status == WorkState.done
        with pytest.raises(Conflict, match='already done'):
            planned.start_planned(s, demo, run_id)


def test_a_paid_plan_needs_the_spend_confirmed(sessions, demo) -> None:
    with sessions() as s:
        paid = provider_accounts.create_account(
            s, ProviderAccountCreate(name='Cloud', kind='openai'), project_id=demo.id
        )
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, account_id=paid.id)).run_id
        summary = planned.plan_summary(s, demo.id, run_id)
        assert not summary.offline and summary.cost_text.startswith('about $') and summary.provider == 'Cloud'
    with sessions() as s, pytest.raises(PolicyRefused, match='confirm the spend'):
        planned.start_planned(s, demo, run_id)
    with sessions() as s:
        assert s.get(Run, run_id).status == WorkState.planned
        planned.start_planned(s, demo, run_id, confirm_spend=True)
    with sessions() as s:
        assert s.get(Run, run_id).status == WorkState.queued


def test_a_plan_made_before_a_change_must_be_made_again(sessions, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1)).run_id
        guide = s.exec(select(StyleGuide)).one()
        guide.rules = 'Thin blue pencil lines.'
        s.add(guide)
    with sessions() as s, pytest.raises(Conflict, match='changed since this plan'):
        planned.start_planned(s, demo, run_id)
    with sessions() as s:
        assert s.get(Run, run_id).status == WorkState.planned
