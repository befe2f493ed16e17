"""QA on every candidate of a job: measure, store a report, rank, pre-select the best and archive failures."""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
from sqlmodel import Session, select

from models.assets import Asset, QualityReport
from models.base import ReviewState
from models.project import Project
from models.runs import Candidate, Job, Run
from services.projects.assets import AssetStore
from services.qa.identity import models_available
from services.qa.lighting import RELIT_STAGES
from services.qa.ranking import rank
from services.qa.report import QAReport, evaluate, style_basis
from services.qa.thresholds import QAThresholds
from services.references.identity_bands import bands_by_name, project_faces, reference_encodings
from services.runs import ledger_qa

__all__ = ['CandidateQA', 'job_reports', 'reference_encodings', 'thresholds_for']

log = logging.getLogger(__name__)


def thresholds_for(project: Project) -> QAThresholds:
    return QAThresholds.from_dict(project.settings.get('qa'))


class CandidateQA:
    """The QA hook the executor calls after a job's candidates are generated."""

    def __init__(self, store: AssetStore) -> None:
        self.store = store

    def __call__(self, session: Session, job: Job, candidates: list[Candidate]) -> None:
        """Measure and record in one go (QA checks outside a run)."""
        self.record(session, job, candidates, self.measure(session, job, candidates))

    def measure(self, session: Session, job: Job, candidates: list[Candidate]) -> list[QAReport]:
        """The slow half, reading only: the run engine measures outside its write transaction."""
        if not candidates:
            return []
        project = session.get(Project, job.project_id)
        thresholds = thresholds_for(project)
        paths = {i['asset_id']: self.store.file_of(project, i['path'], i['sha256']) for i in job.inputs}
        scene = next((paths[i['asset_id']] for i in job.inputs if i['role'] == 'scene'), None)
        styles = [paths[i['asset_id']] for i in job.inputs if i['role'] == 'style']
        profile, lighting = style_basis(styles, relit=session.get(Run, job.run_id).stage in RELIT_STAGES)
        characters: dict[str, list[np.ndarray]] = defaultdict(list)
        if models_available():
            for i in job.inputs:
                if i['role'] == 'character':
                    characters[i.get('name') or 'character'] += list(
                        reference_encodings(str(paths[i['asset_id']]), i['sha256'])[:1]
                    )
        bands = bands_by_name(session, self.store, project, list(characters)) if characters else {}
        others = {}
        if characters:
            others = {n: e for n, e in project_faces(session, self.store, project).items() if n not in characters}
        images = [self.store.path_of(project, session.get(Asset, cand.asset_id)) for cand in candidates]
        reports = [
            evaluate(
                image,
                scene=scene,
                style_profile=profile,
                characters=dict(characters) or None,
                thresholds=thresholds,
                identity_bands=bands,
                other_characters=others,
                lighting=lighting,
            )
            for image in images
        ]
        return ledger_qa.with_ledger(session, self.store, job, images, reports)  # the continuity ledger (#22)

    def record(self, session: Session, job: Job, candidates: list[Candidate], reports: list[QAReport]) -> None:
        """Store each report, summarise it on the candidate, archive failures and rank the job's candidates."""
        for cand, report in zip(candidates, reports, strict=True):
            asset = session.get(Asset, cand.asset_id)
            data = report.to_dict()
            session.add(
                QualityReport(
                    project_id=job.project_id,
                    asset_id=asset.id,
                    candidate_id=cand.id,
                    verdict=report.verdict,
                    score=report.score,
                    metrics=data['metrics'],
                )
            )
            cand.qa_summary = {
                **cand.qa_summary,
                'verdict': report.verdict,
                'score': report.score,
                'failures': report.failures,
                'warnings': report.warnings,
            }
            if report.verdict == 'fail':
                asset.status = ReviewState.archived
                session.add(asset)
        for position, idx in enumerate(rank(reports)):
            candidates[idx].rank = position + 1
        for cand in candidates:
            session.add(cand)
        session.flush()


def job_reports(session: Session, candidate_ids: list[str]) -> dict[str, QualityReport]:
    rows = session.exec(select(QualityReport).where(QualityReport.candidate_id.in_(candidate_ids))).all()  # type: ignore[union-attr]
    return {r.candidate_id: r for r in rows}
