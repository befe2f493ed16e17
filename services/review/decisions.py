"""Review (J04–J06): a job's candidates with their QA, and the artist's decisions; one approved winner per scene."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from models.assets import Asset, AssetRead, QualityReport, Review
from models.base import LinkRelation, ReviewState, WorkState
from models.references import Scene
from models.runs import Candidate, Job, Run
from services.crud import get_owned
from services.errors import Invalid
from services.projects import assets as assets_svc
from services.security import audit

DECISIONS = {'approve': ReviewState.approved, 'reject': ReviewState.rejected, 'shortlist': ReviewState.shortlisted}


@dataclass
class CandidateView:
    id: str
    index: int
    seed: int
    rank: int | None
    review_state: str
    asset: AssetRead | None
    verdict: str = 'unverified'
    score: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ''


@dataclass
class JobView:
    id: str
    scene_id: str | None
    scene: str
    stage: str
    prompt: str
    inputs: list[dict[str, Any]]
    candidates: list[CandidateView]
    retry_note: str = ''

    @property
    def best(self) -> CandidateView | None:
        ranked = [c for c in self.candidates if c.asset and c.rank]
        return min(ranked, key=lambda c: c.rank) if ranked else None


def run_review(session: Session, project_id: str, run_id: str) -> list[JobView]:
    """Every job of a run with its candidates ranked best first, their metrics and the inputs to compare against."""
    run = session.get(Run, run_id)
    if run is None or run.project_id != project_id:
        raise Invalid('No such run in this project.', code='not_found')
    jobs = session.exec(select(Job).where(Job.run_id == run_id).order_by(col(Job.index))).all()
    cands = session.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
    reports = {
        r.candidate_id: r
        for r in session.exec(select(QualityReport).where(QualityReport.candidate_id.in_([c.id for c in cands])))
    }  # type: ignore[union-attr]
    out = []
    for j in jobs:
        views = []
        for c in sorted((c for c in cands if c.job_id == j.id), key=lambda c: (c.rank or 99, c.index)):
            asset = session.get(Asset, c.asset_id) if c.asset_id else None
            rep = reports.get(c.id)
            views.append(
                CandidateView(
                    id=c.id,
                    index=c.index,
                    seed=c.seed,
                    rank=c.rank,
                    review_state=c.review_state,
                    asset=assets_svc.read(asset) if asset else None,
                    verdict=rep.verdict if rep else ('failed' if c.status == WorkState.failed else 'unverified'),
                    score=rep.score if rep else 0.0,
                    metrics=rep.metrics if rep else {},
                    error=c.error,
                )
            )
        note = session.exec(
            select(Review)
            .where(Review.scene_id == j.scene_id, Review.stage == run.stage.value, Review.state == 'retry')
            .order_by(col(Review.created_at).desc())
        ).first()
        out.append(
            JobView(
                j.id,
                j.scene_id,
                j.params.get('scene', ''),
                run.stage.value,
                j.prompt,
                j.inputs,
                views,
                note.note if note else '',
            )
        )
    return out


def decide(session: Session, project_id: str, candidate_id: str, decision: str, *, note: str = '') -> CandidateView:
    """Approve makes the asset immutable and the scene's input for the next stage; a previous winner steps down."""
    if decision not in DECISIONS:
        raise Invalid(f'Decision must be one of {", ".join(DECISIONS)}.', code='invalid_decision')
    cand = get_owned(session, Candidate, project_id, candidate_id)
    if cand.asset_id is None:
        raise Invalid('This candidate has no image (it failed); retry it instead.', code='no_image')
    asset = session.get(Asset, cand.asset_id)
    job = session.get(Job, cand.job_id)
    run = session.get(Run, cand.run_id)
    state = DECISIONS[decision]
    if state == ReviewState.approved:
        previous = session.exec(
            select(Asset).where(
                Asset.project_id == project_id,
                Asset.scene_id == job.scene_id,
                Asset.stage == run.stage.value,
                Asset.status == ReviewState.approved,
                Asset.id != asset.id,
            )
        ).all()
        for old in previous:
            old.status = ReviewState.shortlisted
            session.add(old)
            session.add(
                Review(
                    project_id=project_id,
                    scene_id=job.scene_id,
                    stage=run.stage.value,
                    state='replaced',
                    note=f'replaced by {asset.id}',
                )
            )
        for other in session.exec(
            select(Candidate).where(
                Candidate.job_id == job.id, Candidate.id != cand.id, Candidate.review_state == 'approved'
            )
        ):
            other.review_state = 'shortlisted'
            session.add(other)
        asset.immutable = True
        scene = session.get(Scene, job.scene_id) if job.scene_id else None
        if scene and scene.reference_asset_id and scene.reference_asset_id != asset.id:
            assets_svc.link_assets(
                session,
                project_id,
                asset.id,
                scene.reference_asset_id,
                LinkRelation.approved_for,
                {'stage': run.stage.value},
            )
    asset.status = state
    cand.review_state = state.value
    session.add_all(
        [
            asset,
            cand,
            Review(
                project_id=project_id,
                candidate_id=cand.id,
                scene_id=job.scene_id,
                stage=run.stage.value,
                state=state.value,
                note=note,
            ),
        ]
    )
    payload = {'candidate_id': cand.id, 'asset_id': asset.id, 'run_id': run.id, 'scene_id': job.scene_id}
    audit.record(session, project_id=project_id, action=f'review.{decision}', payload={**payload, 'note': note})
    session.flush()
    return next(c for v in run_review(session, project_id, run.id) for c in v.candidates if c.id == cand.id)


def mark_retry(session: Session, project_id: str, scene_id: str, stage: str, note: str) -> None:
    """The artist wants another try at this scene; the note travels with it."""
    get_owned(session, Scene, project_id, scene_id)
    if not note.strip():
        raise Invalid('Say what should change in the retry note.', code='note_required')
    session.add(Review(project_id=project_id, scene_id=scene_id, stage=stage, state='retry', note=note.strip()))
    payload = {'scene_id': scene_id, 'stage': stage, 'note': note.strip()}
    audit.record(session, project_id=project_id, action='review.retry', payload=payload)
    session.flush()
