"""Review without the mouse: the run to review, and approve-best (the top-ranked candidate that passed QA per scene)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import AssetKind, ReviewState, RunMode, Stage, WorkState
from models.runs import Candidate, Job, Run
from services.errors import Invalid, NotFound
from services.references import scenes as scenes_svc
from services.review.decisions import CandidateView, JobView, decide, run_review
from services.security import audit

PASSING = ('pass', 'warn')  # measured and not failed; a warning is the artist's call, a failure never is
PREFIX_MIN = 6
STAGES = tuple(s.value for s in Stage)


def stage_of(value: str) -> Stage:
    """A stage by name, or a typed error naming the choices."""
    if value not in STAGES:
        raise Invalid(f'Stage must be one of {", ".join(STAGES)}.', details={'field': 'stage'})
    return Stage(value)


@dataclass(frozen=True)
class Pick:
    """A scene's winner at a stage: chosen now, or already approved before (then candidate may be unknown)."""

    scene_id: str
    scene: str
    asset_id: str
    candidate_id: str | None = None
    run_id: str | None = None
    rank: int | None = None
    verdict: str = ''
    score: float = 0.0


@dataclass(frozen=True)
class Unresolved:
    scene_id: str
    scene: str
    reason: str


@dataclass
class BestResult:
    """What approve-best did: approved now, kept (approved before, never replaced), and scenes left without one."""

    stage: str
    approved: list[Pick] = field(default_factory=list)
    kept: list[Pick] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)


def latest_run(session: Session, project_id: str, stage: str | None = None) -> Run:
    """The newest generating run (of a stage, if given): what `kroma review PROJECT` shows by default."""
    query = select(Run).where(Run.project_id == project_id, Run.mode == RunMode.run)
    if stage:
        query = query.where(Run.stage == stage_of(stage))
    run = session.exec(query.order_by(col(Run.created_at).desc())).first()
    if run is None:
        where = f' at the {stage} stage' if stage else ''
        raise NotFound(f'This project has no runs{where} to review yet.', code='no_runs')
    return run


def review_run(
    session: Session, project_id: str, *, stage: str | None = None, run_id: str | None = None
) -> tuple[Run, list[JobView]]:
    """One run's jobs with their candidates ranked best first: the given run, else the newest of the stage."""
    if run_id:
        run = session.get(Run, run_id)
        if run is None or run.project_id != project_id:
            raise NotFound('No such run in this project.', code='not_found')
        if stage and run.stage.value != stage:
            raise Invalid(f'Run {run_id[:8]} is a {run.stage.value} run, not {stage}.', code='stage_mismatch')
    else:
        run = latest_run(session, project_id, stage)
    return run, run_review(session, project_id, run.id)


def _jobs_by_scene(session: Session, project_id: str, stage: str, run_id: str | None) -> dict[str, JobView]:
    """Per scene, its job in the given run, else in the newest run of the stage that finished a candidate for it."""
    if run_id:
        runs = [review_run(session, project_id, stage=stage, run_id=run_id)[0]]
    else:
        query = select(Run).where(Run.project_id == project_id, Run.mode == RunMode.run, Run.stage == stage_of(stage))
        runs = list(session.exec(query.order_by(col(Run.created_at).desc())))
    found: dict[str, JobView] = {}
    for run in runs:
        finished = set(
            session.exec(
                select(Job.scene_id)
                .join(Candidate, Candidate.job_id == Job.id)
                .where(Job.run_id == run.id, Candidate.status == WorkState.done)
            )
        )
        if not finished - set(found):
            continue
        for view in run_review(session, project_id, run.id):
            if view.scene_id in finished and view.scene_id not in found:
                found[view.scene_id] = view
    return found


def _approved_asset(session: Session, project_id: str, scene_id: str, stage: str) -> Asset | None:
    return session.exec(
        select(Asset).where(
            Asset.project_id == project_id,
            Asset.scene_id == scene_id,
            Asset.stage == stage,
            Asset.status == ReviewState.approved,
            Asset.kind != AssetKind.derived,
        )
    ).first()


def _why_none(candidates: list[CandidateView]) -> str:
    failed = sum(c.verdict == 'fail' for c in candidates)
    no_image = sum(c.asset is None for c in candidates)
    unmeasured = len(candidates) - failed - no_image
    parts = [f'{failed} failed QA'] * bool(failed) + [f'{no_image} without an image'] * bool(no_image)
    parts += [f'{unmeasured} not measured'] * bool(unmeasured)
    return f'none of its {len(candidates)} candidate(s) passed QA ({", ".join(parts)})'


def approve_best(
    session: Session, project_id: str, stage: str | None = None, *, run_id: str | None = None
) -> BestResult:
    """Approve, per scene, the best-ranked candidate whose QA passed (or warned); scenes already approved stay as they are."""
    stage = stage_of(stage).value if stage else latest_run(session, project_id).stage.value
    jobs = _jobs_by_scene(session, project_id, stage, run_id)
    scenes = [s for s in scenes_svc.list_scenes(session, project_id) if not run_id or s.id in jobs]
    result = BestResult(stage)
    for scene in scenes:
        if (kept := _approved_asset(session, project_id, scene.id, stage)) is not None:
            result.kept.append(Pick(scene.id, scene.name, kept.id))
            continue
        view = jobs.get(scene.id)
        if view is None:
            result.unresolved.append(Unresolved(scene.id, scene.name, f'no finished candidates at the {stage} stage'))
            continue
        ranked = sorted(view.candidates, key=lambda c: (c.rank is None, c.rank or 0, c.index))
        best = next((c for c in ranked if c.asset is not None and c.verdict in PASSING), None)
        if best is None:
            result.unresolved.append(Unresolved(scene.id, scene.name, _why_none(view.candidates)))
            continue
        decide(session, project_id, best.id, 'approve', note='approve-best: top-ranked candidate that passed QA')
        run = session.get(Candidate, best.id).run_id
        pick = Pick(scene.id, scene.name, best.asset.id, best.id, run, best.rank, best.verdict, best.score)
        result.approved.append(pick)
    payload = {'stage': stage, 'run_id': run_id, 'approved': len(result.approved), 'left': len(result.unresolved)}
    audit.record(session, project_id=project_id, action='review.approve_best', payload=payload)
    return result


def find_candidate(session: Session, ref: str) -> Candidate:
    """A candidate by id or a unique id prefix, in any project (the CLI names candidates without their project)."""
    ref = ref.strip().lower()
    if not re.fullmatch(rf'[0-9a-f]{{{PREFIX_MIN},32}}', ref):
        raise Invalid(f'A candidate id is {PREFIX_MIN} to 32 hex characters, not {ref[:40]!r}.', code='candidate_ref')
    rows = session.exec(select(Candidate).where(col(Candidate.id).startswith(ref)).limit(2)).all()
    if not rows:
        raise NotFound(f'No candidate {ref}.', code='candidate_missing')
    if len(rows) > 1:
        raise Invalid(f'{ref} matches several candidates; give more of the id.', code='candidate_ambiguous')
    return rows[0]
