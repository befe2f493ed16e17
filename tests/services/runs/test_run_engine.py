"""The run engine on the offline renderer: plan, spend guard, durable execution, QA, cancel, resume, recovery."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlmodel import select

from models.assets import Asset, QualityReport
from models.base import ProviderKind, Stage, WorkState, utcnow
from models.project import ProjectUpdate
from models.provider import ProviderAccountCreate
from models.runs import Candidate, Job, Run
from services.errors import Invalid, PolicyRefused
from services.files import sha256_file
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.providers.base import ProviderConfig
from services.providers.registry import build_provider
from services.runs import control as runs
from services.runs import leases
from services.runs import queue as run_queue
from services.runs import status as run_status
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.log import run_log_path
from services.runs.plan import RunRequest

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


def execute(sessions, store, run_id: str | None = None) -> int:
    return asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))


def test_dry_plan_composes_prompts_and_blocks_later_stages(sessions, demo) -> None:
    with sessions() as s:
        started = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=2))
        plan = started.plan
        assert [j.scene_name for j in plan.jobs] == ['Launch pad', 'Café table', 'Night street']
        job = plan.jobs[0]
        assert 'Sepia ink' in job.prompt and 'rocket' in job.prompt and 'Eileen' in job.prompt
        assert [i.role for i in job.inputs] == ['scene', 'style', 'style']
        assert job.size == (1536, 1024)  # landscape scene keeps its orientation
        assert s.get(Run, started.run_id).status == WorkState.planned
        later = runs.plan(s, demo, RunRequest(stage=Stage.time, time='night'))[0]
    assert all('approve a style candidate first' in j.blocked for j in later.jobs)
    with sessions() as s, pytest.raises(Invalid, match='Candidates per scene'):
        runs.start(s, demo, RunRequest(stage=Stage.style, candidates=9))


def test_batch_limit_refuses_before_any_call(sessions, demo) -> None:
    with sessions() as s:
        projects.update_project(s, 'demo', ProjectUpdate(batch_limit=2))
        p = projects.get_project(s, 'demo')
    with sessions() as s, pytest.raises(PolicyRefused, match='batch limit of 2'):
        runs.start(s, p, RunRequest(stage=Stage.style, mode='run'))
    with sessions() as s:
        assert s.exec(select(Run)).all() == []


def test_run_executes_durably_with_qa_and_a_valid_log(sessions, store, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=2, mode='run')).run_id
    assert execute(sessions, store) == 3
    with sessions() as s:
        progress = run_status.run_progress(s, demo.id, run_id)
        assert progress.run.status == WorkState.done and progress.run.done == 6
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        for c in cands:
            asset = s.get(Asset, c.asset_id)
            assert sha256_file(store.path_of(demo, asset)) == asset.sha256 == c.qa_summary['sha256']
            assert c.qa_summary['verdict'] in ('pass', 'warn', 'fail') and c.rank in (1, 2)
        assert len(s.exec(select(QualityReport)).all()) == 6
    log = json.loads(run_log_path(store.root(demo), run_id).read_text())
    assert log['run']['status'] == 'done' and len(log['jobs']) == 3
    assert all(len(j['inputs'][0]['sha256']) == 64 for j in log['jobs'])
    assert all(j['params']['palette'] == ['#18141c', '#5c4034', '#b0845c', '#ecd8b4'] for j in log['jobs'])
    with sessions() as s:  # the offline renderer draws in the demo's style sheets: flat sepia tones and ink
        reports = s.exec(select(QualityReport)).all()
    style = [r.metrics['style']['verdict'] for r in reports]
    composition = [r.metrics['composition']['verdict'] for r in reports]
    assert style.count('pass') >= 4 and 'fail' not in style, style
    assert 'fail' not in composition, composition


def test_same_seed_same_pixels_across_runs(sessions, store, demo) -> None:
    hashes = []
    for _ in range(2):
        with sessions() as s:
            rid = runs.start(
                s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run', scene_ids=None, seed=7)
            ).run_id
        execute(sessions, store, rid)
        with sessions() as s:
            hashes.append(
                sorted(c.qa_summary['sha256'] for c in s.exec(select(Candidate).where(Candidate.run_id == rid)))
            )
    assert hashes[0] == hashes[1]


def test_a_dead_workers_job_is_reclaimed_when_its_lease_runs_out(sessions, store, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=2, mode='run')).run_id
        first_job = s.exec(select(Job).where(Job.run_id == run_id, Job.index == 0)).one().id
        assert run_queue.claim_job(s, 'other-host:1:x', run_id=run_id) == first_job  # claimed by a process that died
        run_queue.start_candidates(s, first_job)
    execute(sessions, store, run_id)  # the other two jobs; the first is held until its lease runs out
    with sessions() as s:
        progress = run_status.run_progress(s, demo.id, run_id)
        assert progress.run.status == WorkState.running and progress.run.done == 4
        done_before = {c.id: c.asset_id for c in s.exec(select(Candidate).where(Candidate.status == WorkState.done))}
        with pytest.raises(Invalid, match='still running: worker other-host:1:x holds a job until'):
            run_queue.requeue(s, demo.id, run_id)
        later = utcnow() + timedelta(seconds=run_queue.LEASE_S + 1)
        assert leases.reclaim_expired(s, now=later) == [run_id]  # any worker may do it, no restart needed
    execute(sessions, store, run_id)
    with sessions() as s:
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        assert all(c.status == WorkState.done for c in cands)
        assert all(c.asset_id == done_before[c.id] and c.attempts == 1 for c in cands if c.id in done_before)
        assert run_status.run_progress(s, demo.id, run_id).run.status == WorkState.done


def test_cancel_keeps_finished_and_resume_runs_only_the_rest(sessions, store, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=2, mode='run')).run_id
    made = []

    def cancel_after_the_first_job(config: ProviderConfig):  # noqa: ANN202
        provider = build_provider(ProviderConfig(kind='local', name='offline', options={'concurrency': 1}))
        generate = provider.generate

        async def counted(request):  # noqa: ANN001, ANN202
            out = await generate(request)
            made.append(request.seed)
            if len(made) == 2:  # the first job's two candidates are made: the artist cancels
                with sessions() as s:
                    run_queue.cancel_run(s, demo.id, run_id)
            return out

        provider.generate = counted
        return provider

    executor = RunExecutor(sessions=sessions, store=store, provider_factory=cancel_after_the_first_job)
    executor.max_parallel_jobs = 1
    asyncio.run(executor.drain(run_id=run_id))
    with sessions() as s:
        progress = run_status.run_progress(s, demo.id, run_id)
        assert progress.run.status == WorkState.canceled and progress.run.done == 2 and len(made) == 2
        done_before = {c.id: c.asset_id for c in s.exec(select(Candidate).where(Candidate.status == WorkState.done))}
        assert run_queue.requeue(s, demo.id, run_id) == 4
    execute(sessions, store, run_id)
    with sessions() as s:
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        assert all(c.status == WorkState.done for c in cands)
        assert all(c.asset_id == done_before[c.id] and c.attempts == 1 for c in cands if c.id in done_before)
        assert run_status.run_progress(s, demo.id, run_id).run.status == WorkState.done


def test_two_workers_never_claim_the_same_job(sessions, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
    claimed = []
    for worker in ('a', 'b', 'a', 'b'):
        with sessions() as s:
            claimed.append(run_queue.claim_job(s, f'h:{worker}', run_id=run_id))
    assert len({c for c in claimed if c}) == 3 and claimed[-1] is None


def test_paid_runs_need_confirmation_and_fit_the_budget(sessions, demo) -> None:
    with sessions() as s:
        account = provider_accounts.create_account(
            s,
            ProviderAccountCreate(
                name='paid', kind=ProviderKind.openai, base_url='http://127.0.0.1:9', model='gpt-image-2'
            ),
        )
        req = RunRequest(stage=Stage.style, candidates=2, mode='run', account_id=account.id)
        plan, _ = runs.plan(s, demo, req)
        assert plan.total_cost_usd > 0 and not plan.provider_offline
    with sessions() as s, pytest.raises(PolicyRefused, match='confirm the spend'):
        runs.start(s, demo, req)
    with sessions() as s:
        projects.update_project(s, 'demo', ProjectUpdate(budget_usd=plan.total_cost_usd / 2))
        poor = projects.get_project(s, 'demo')
    with sessions() as s, pytest.raises(PolicyRefused, match='over the') as refused:
        runs.start(s, poor, RunRequest(**{**req.__dict__, 'confirm_spend': True}))
    assert refused.value.code == 'budget_exceeded'
    with sessions() as s:
        assert s.exec(select(Run)).all() == []  # refused before any row or call


def test_a_dry_run_has_its_log_too(sessions, store, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style), project_root=store.root(demo)).run_id
    log = json.loads(run_log_path(store.root(demo), run_id).read_text())
    assert log['run']['mode'] == 'dry' and log['run']['status'] == 'planned' and len(log['jobs']) == 3
    assert all(j['prompt'] and j['inputs'] for j in log['jobs'])


def test_a_queued_runs_rows_carry_the_models_defaults(sessions, demo) -> None:
    """Jobs and candidates are bulk-inserted rows, not ORM objects: each still has what constructing it would give."""
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=3, mode='run')).run_id
    with sessions() as s:
        jobs = s.exec(select(Job).where(Job.run_id == run_id).order_by(Job.index)).all()
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        assert [j.index for j in jobs] == [0, 1, 2] and all(j.status == WorkState.queued for j in jobs)
        assert len(cands) == 9 and len({c.id for c in cands}) == 9 and len({c.seed for c in cands}) == 9
        blank = Candidate(project_id='p', run_id='r', job_id='j', index=0, seed=0)
        for c in cands:
            assert (c.review_state, c.qa_summary, c.calls, c.attempts) == (
                blank.review_state,
                blank.qa_summary,
                blank.calls,
                blank.attempts,
            )
            assert c.created_at is not None and c.job_id in {j.id for j in jobs}
