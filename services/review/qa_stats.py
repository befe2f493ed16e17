"""Dashboard figures from stored QA reports: pass rate per run, style over time, identity per character and scene."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from models.assets import QualityReport
from models.references import Scene
from models.runs import Candidate, Job, Run


def pass_rate_per_run(session: Session, project_id: str, limit: int = 30) -> list[dict[str, Any]]:
    """The newest `limit` generation runs, oldest first, each with its measured, passed and failed candidates;
    a run with nothing measured yet is listed with a rate of None rather than left out."""
    newest = session.exec(
        select(Run)
        .where(Run.project_id == project_id, Run.mode == 'run')
        .order_by(col(Run.created_at).desc(), col(Run.id))
        .limit(limit)
    ).all()
    runs = list(reversed(newest))
    rows = session.exec(
        select(Candidate.run_id, QualityReport.verdict)
        .join(QualityReport, QualityReport.candidate_id == Candidate.id)
        .where(Candidate.project_id == project_id, col(Candidate.run_id).in_([r.id for r in runs]))
    ).all()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for run_id, verdict in rows:
        counts[run_id][1] += 1
        counts[run_id][0] += verdict == 'pass'
    return [
        {
            'run': f'{r.stage.value} {r.id[:4]} · {r.created_at:%m-%d %H:%M}',
            'run_id': r.id,
            'measured': counts[r.id][1],
            'passed': counts[r.id][0],
            'pass_rate': round(counts[r.id][0] / counts[r.id][1], 3) if counts[r.id][1] else None,
        }
        for r in runs
    ]


def style_over_time(session: Session, project_id: str, limit: int = 500) -> list[tuple[str, float]]:
    reports = session.exec(
        select(QualityReport)
        .where(QualityReport.project_id == project_id)
        .order_by(col(QualityReport.created_at))
        .limit(limit)
    ).all()
    return [
        (r.created_at.isoformat(timespec='seconds'), r.metrics['style']['value'])
        for r in reports
        if r.metrics.get('style', {}).get('value') is not None
    ]


def identity_by_character(session: Session, project_id: str) -> dict[str, list[tuple[str, float]]]:
    """Each character's face distance per scene (lower is closer to the references)."""
    rows = session.exec(
        select(QualityReport, Job.scene_id)
        .join(Candidate, Candidate.id == QualityReport.candidate_id)
        .join(Job, Job.id == Candidate.job_id)
        .where(QualityReport.project_id == project_id)
    ).all()
    names = {s.id: s.name for s in session.exec(select(Scene).where(Scene.project_id == project_id))}
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for report, scene_id in rows:
        for character, result in (report.metrics.get('identity', {}).get('extra', {}).get('characters') or {}).items():
            if result.get('distance') is not None:
                out[character].append((names.get(scene_id, '?'), result['distance']))
    return dict(out)
