"""The JSON run log: rewritten atomically after every change, so it is valid at every moment, even if the run dies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models.runs import Candidate, CostEvent, Job, Run
from services.files import atomic_write_text


def run_log_path(project_root: Path, run_id: str) -> Path:
    return project_root / 'runs' / run_id / 'run.json'


def build_run_log(session: Session, run_id: str) -> dict[str, Any]:
    """Settings snapshot, jobs with prompts and input hashes, candidates, errors and costs; never a secret."""
    run = session.get(Run, run_id)
    jobs = session.exec(select(Job).where(Job.run_id == run_id).order_by(col(Job.index))).all()
    cands = session.exec(select(Candidate).where(Candidate.run_id == run_id).order_by(col(Candidate.index))).all()
    costs = session.exec(select(CostEvent).where(CostEvent.run_id == run_id).order_by(col(CostEvent.created_at))).all()
    return {
        'schema': 'kroma.runlog.v1',
        'run': {
            'id': run.id,
            'stage': run.stage.value,
            'mode': run.mode.value,
            'status': run.status.value,
            'error': run.error,
            'created_at': run.created_at.isoformat(),
            'started_at': run.started_at and run.started_at.isoformat(),
            'finished_at': run.finished_at and run.finished_at.isoformat(),
            'cost_estimate_usd': run.cost_estimate_usd,
            'cost_actual_usd': run.cost_actual_usd,
        },
        'settings': run.settings_snapshot,
        'jobs': [
            {
                'id': j.id,
                'index': j.index,
                'scene_id': j.scene_id,
                'status': j.status.value,
                'prompt': j.prompt,
                'inputs': [{k: v for k, v in i.items() if k != 'path'} | {'path': i.get('path')} for i in j.inputs],
                'params': j.params,
                'error': j.error,
                'candidates': [
                    {
                        'id': c.id,
                        'index': c.index,
                        'seed': c.seed,
                        'status': c.status.value,
                        'asset_id': c.asset_id,
                        'sha256': c.qa_summary.get('sha256'),
                        'qa': {k: v for k, v in c.qa_summary.items() if k != 'sha256'},
                        'rank': c.rank,
                        'error': c.error,
                        'attempts': sum(call.get('attempts', 0) for call in c.calls) if c.calls else c.attempts,
                        'executions': c.attempts,  # times the candidate was started (a resume starts it again)
                        'calls': c.calls,  # each provider call: attempts with status and wait, outcome
                    }
                    for c in cands
                    if c.job_id == j.id
                ],
            }
            for j in jobs
        ],
        'costs': [
            {
                'candidate_id': c.candidate_id,
                'call': c.meta.get('call'),
                'provider': c.provider,
                'model': c.model,
                'amount_usd': c.amount_usd,
                'state': c.meta.get('state', 'billed'),
                **({'note': c.meta['note']} if c.meta.get('note') else {}),
            }
            for c in costs
        ],
    }


def write_run_log(session: Session, project_root: Path, run_id: str) -> Path:
    path = run_log_path(project_root, run_id)
    atomic_write_text(path, json.dumps(build_run_log(session, run_id), indent=2, sort_keys=True, default=str))
    return path
