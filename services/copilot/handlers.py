"""What a confirmed instruction does: a dispatch table over the services the pages call, and the external agent."""

from __future__ import annotations

import logging
from collections import Counter
from functools import partial
from typing import Any

from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import AssetKind, ReviewState, RunMode, Stage, WorkState
from models.db import SessionFactory
from models.project import ProjectRead
from models.runs import Candidate, Job, Run
from services.backups.config import backup_service, resolve_target
from services.copilot.instructions import Handler
from services.copilot.llm import post_json, run_sync
from services.deps import Deps
from services.errors import Invalid, KromaError, NotFound, ProviderError
from services.exports.exporter import Exporter, ExportRequest
from services.layout import autolayout
from services.postprocess.runs import PostprocessRequest, PostprocessRunner
from services.projects.assets import AssetStore
from services.runs import candidate_qa
from services.runs import control as runs
from services.runs import queue as run_queue
from services.runs.plan import RunRequest

log = logging.getLogger(__name__)

AGENT_TIMEOUT_S = 20.0
AGENT_RETRIES = 2
AGENT_BACKOFF_S = 1.5


def run_request(payload: dict[str, Any], *, mode: str = 'run') -> RunRequest:
    """The run an instruction asks for; spend is confirmed only when the artist confirmed the card."""
    inputs, constraints = payload.get('inputs', {}), payload.get('constraints', {})
    return RunRequest(
        stage=Stage(inputs['stage']),
        scene_ids=inputs.get('scene_ids') or None,
        candidates=int(constraints.get('candidates', 3)),
        character_ids=inputs.get('character_ids') or None,
        time=inputs.get('time'),
        weather=inputs.get('weather'),
        mode=mode,
        confirm_spend=mode == 'run' and bool(payload.get('confirmed')),
    )


def handler_table(deps: Deps, *, agent_backoff_s: float = AGENT_BACKOFF_S) -> dict[str, Handler]:
    """The one table every instruction worker dispatches on: the studio's, `kroma instructions work` and the API's."""
    return {
        'pipeline_run': partial(pipeline_run, secrets=deps.secrets, wake_runs=deps.wake.runs, store=deps.store),
        'qa_check': partial(qa_check, store=deps.store),
        'postprocess': partial(postprocess, store=deps.store, secrets=deps.secrets),
        'layout': layout,
        'export': partial(export, store=deps.store),
        'backup': partial(backup, deps=deps),
        'custom': partial(custom, secrets=deps.secrets, agent_url=deps.options.agent_url, backoff_s=agent_backoff_s),
    }


def pipeline_run(
    sessions: SessionFactory,
    project: ProjectRead,
    payload: dict[str, Any],
    *,
    secrets: Any,
    wake_runs: Any,
    store: Any = None,
) -> dict[str, Any]:
    """A normal run with the same spend guard and budget; a refused run fails the instruction with the guard's words."""
    with sessions() as s:
        root = store.root(project) if store is not None else None
        started = runs.start(s, project, run_request(payload), secrets=secrets, project_root=root)
    if wake_runs is not None:
        wake_runs()
    jobs = started.plan.runnable
    n = sum(1 for _ in jobs) * started.plan.request.candidates
    return {
        'run_id': started.run_id,
        'jobs': len(jobs),
        'candidates': n,
        'cost_estimate_usd': started.plan.total_cost_usd,
        'message': f'Run {started.run_id[:8]} queued: {len(jobs)} job(s), {n} candidate(s).',
    }


def _latest_run(s: Session, project_id: str, inputs: dict[str, Any]) -> Run:
    if inputs.get('run_id'):
        return run_queue.get_run(s, project_id, inputs['run_id'])
    query = select(Run).where(Run.project_id == project_id, Run.mode == RunMode.run)
    if inputs.get('stage'):
        query = query.where(Run.stage == inputs['stage'])
    for run in s.exec(query.order_by(col(Run.created_at).desc()).limit(20)):
        if s.exec(select(Candidate.id).where(Candidate.run_id == run.id, Candidate.status == WorkState.done)).first():
            return run
    raise NotFound('There is no run with finished candidates to check yet.', code='nothing_to_check')


def qa_check(sessions: SessionFactory, project: ProjectRead, payload: dict[str, Any], *, store: Any) -> dict[str, Any]:
    """QA of the latest candidates of a run or stage; candidates never measured are measured now."""
    inputs = payload.get('inputs', {})
    with sessions() as s:
        run = _latest_run(s, project.id, inputs)
        query = select(Job).where(Job.run_id == run.id)
        if inputs.get('scene_ids'):
            query = query.where(col(Job.scene_id).in_(inputs['scene_ids']))
        jobs = s.exec(query.order_by(col(Job.index))).all()
        done = s.exec(
            select(Candidate).where(col(Candidate.job_id).in_([j.id for j in jobs]), Candidate.status == WorkState.done)
        ).all()
        reports = candidate_qa.job_reports(s, [c.id for c in done])
        unmeasured = [c for c in done if c.id not in reports]
        if unmeasured and store is not None:
            hook = candidate_qa.CandidateQA(store)
            for job in jobs:
                hook(s, job, [c for c in unmeasured if c.job_id == job.id])
            reports = candidate_qa.job_reports(s, [c.id for c in done])
        verdicts = Counter(r.verdict for r in reports.values())
        failing = Counter(m for r in reports.values() for m, v in r.metrics.items() if v.get('verdict') == 'fail')
    counts = {v: verdicts.get(v, 0) for v in ('pass', 'warn', 'fail', 'unverified')}
    text = ', '.join(f'{n} {v}' for v, n in counts.items() if n) or 'nothing measured'
    return {
        'run_id': run.id,
        'stage': run.stage.value,
        'checked': len(reports),
        'verdicts': counts,
        'failing_metrics': dict(failing),
        'message': f'QA of {len(reports)} candidate(s) of {run.stage.value} run {run.id[:8]}: {text}.',
    }


def postprocess(
    sessions: SessionFactory, project: ProjectRead, payload: dict[str, Any], *, store: Any, secrets: Any
) -> dict[str, Any]:
    """The post-process chain on approved images, through the same runner as the page."""
    inputs = payload.get('inputs', {})
    asset_ids = None
    if not inputs.get('stage'):
        with sessions() as s:
            asset_ids = s.exec(
                select(Asset.id).where(
                    Asset.project_id == project.id,
                    Asset.status == ReviewState.approved,
                    Asset.kind != AssetKind.derived,
                    col(Asset.stage).is_not(None),
                )
            ).all()
        if not asset_ids:
            raise NotFound('There are no approved images to post-process yet.', code='no_sources')
    req = PostprocessRequest(
        asset_ids=asset_ids,
        stage=inputs.get('stage'),
        steps=inputs.get('steps'),
        profile=inputs.get('profile'),
        scale=inputs.get('scale'),
    )
    result = PostprocessRunner(sessions, store, secrets).run(project.slug, req)
    archived = sum(o.archived for o in result.outputs)
    return {
        'outputs': [o.asset_id for o in result.outputs],
        'archived': archived,
        'failures': [f.reason for f in result.failures],
        'message': f'{len(result.outputs)} output(s), {archived} archived, {len(result.failures)} failed.',
    }


def layout(sessions: SessionFactory, project: ProjectRead, payload: dict[str, Any]) -> dict[str, Any]:
    """Auto-layout of a chapter, through the same service as the page editor's button and `kroma pages layout`."""
    inputs = payload.get('inputs', {})
    chapter = int(inputs.get('chapter') or 1)
    with sessions() as s:
        plan = autolayout.auto_layout(
            s, project.id, chapter, template=inputs.get('template'), stage=inputs.get('stage')
        )
    panels = sum(len(p.panels) for p in plan.pages)
    skipped = f', {len(plan.skipped)} scene(s) skipped' if plan.skipped else ''
    return {
        'chapter': chapter,
        'page_ids': [p.page_id for p in plan.pages],
        'panels': panels,
        'skipped': [f'{scene}: {why}' for scene, why in plan.skipped],
        'message': f'Chapter {chapter}: {len(plan.pages)} new page(s) with {panels} panel(s){skipped}.',
    }


def export(
    sessions: SessionFactory, project: ProjectRead, payload: dict[str, Any], *, store: AssetStore
) -> dict[str, Any]:
    """The format and chapter the artist asked for, through the same exporter as the Export page."""
    inputs = payload.get('inputs', {})
    req = ExportRequest(format=inputs.get('format') or 'cbz', chapter=inputs.get('chapter'))
    done = Exporter(sessions, store).run(project.slug, req)
    part = f' of chapter {req.chapter}' if req.chapter else ''
    return {
        'export_id': done.id,
        'path': done.path,
        'sha256': done.sha256,
        'format': req.format,
        'chapter': req.chapter,
        'message': f'{req.format.upper()}{part} written: {done.path}.',
    }


def backup(sessions: SessionFactory, project: ProjectRead, payload: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """A snapshot of the project to its configured bucket, like Back up now."""
    if deps.backup.db_path is None:
        raise Invalid(
            'Backups need the SQLite database file; this studio runs on another database.', code='backup_unsupported'
        )
    with sessions() as s:
        target = resolve_target(defaults=deps.backup, project=project, secrets=deps.secrets, session=s)
    service = backup_service(target, data_dir=deps.data_dir, db_path=deps.backup.db_path)
    done = service.snapshot(sessions, project_slug=project.slug)
    return {
        'snapshot_key': done.snapshot_key,
        'status': done.status,
        'files': done.file_count,
        'message': f'Snapshot {done.snapshot_key}: {done.file_count} file(s).',
    }


def custom(
    sessions: SessionFactory,
    project: ProjectRead,
    payload: dict[str, Any],
    *,
    secrets: Any,
    agent_url: str | None,
    backoff_s: float = AGENT_BACKOFF_S,
) -> dict[str, Any]:
    """Anything else goes to the external agent, when one is configured; otherwise it fails and says why."""
    if not agent_url:
        raise KromaError(
            'This needs an agent: no external agent is configured (KROMA_AGENT_API_URL).', code='needs_agent'
        )
    token = None
    if secrets is not None:
        with sessions() as s:
            token = secrets.get_by_name(s, scope='global', provider='agent', name='token')
    body = {
        'instruction_id': payload.get('instruction_id'),
        'project_slug': project.slug,
        'instruction_type': 'custom',
        'objective': payload.get('objective', ''),
        'payload': {k: v for k, v in payload.items() if k in ('inputs', 'constraints')},
    }
    answer = run_sync(
        lambda: post_json(
            agent_url,
            body,
            provider='the agent',
            token=token,
            timeout_s=AGENT_TIMEOUT_S,
            max_retries=AGENT_RETRIES,
            base_delay=backoff_s,
        )
    )
    status = str((answer or {}).get('status') or 'done') if isinstance(answer, dict) else 'done'
    if status == 'failed':
        raise KromaError(
            f'The agent reported failure: {answer.get("error") or "no reason given"}.', code='agent_failed'
        )
    if status not in ('done', 'accepted', 'queued', 'running'):
        raise ProviderError(f'The agent answered with an unknown status {status!r}.', code='agent_bad_status')
    message = 'The agent finished it.' if status == 'done' else f'Handed to the agent (it says {status}).'
    return {'agent_status': status, 'agent_response': answer, 'message': message}
