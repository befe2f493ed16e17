"""Post-process outputs that QA archived: shown with the reason, and restored by the artist in one click."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.assets import Asset, AssetRead, QualityReport
from models.base import AssetKind, ReviewState
from services.errors import Conflict
from services.projects.assets import get_asset, read
from services.security import audit


@dataclass(frozen=True)
class ArchivedOutput:
    asset: AssetRead
    reason: str  # the failing measurements in words, e.g. 'technical: 320×320 is under the 512×512 minimum'
    source_id: str


def archive_reason(report: QualityReport | None) -> str:
    """Each failing metric with its own words, so the artist can judge whether QA was right."""
    if report is None:
        return 'no QA report was stored'
    metrics = report.metrics.items()
    failing = [f'{name}: {m.get("detail") or "failed"}' for name, m in metrics if m.get('verdict') == 'fail']
    return '; '.join(failing) or f'QA verdict {report.verdict}'


def _report(session: Session, asset_id: str) -> QualityReport | None:
    query = select(QualityReport).where(QualityReport.asset_id == asset_id)
    return session.exec(query.order_by(col(QualityReport.created_at).desc())).first()


def archived_outputs(session: Session, project_id: str, *, limit: int = 100) -> list[ArchivedOutput]:
    """The newest archived post-process outputs with why QA archived each."""
    rows = session.exec(
        select(Asset)
        .where(Asset.project_id == project_id, Asset.kind == AssetKind.derived, Asset.status == ReviewState.archived)
        .order_by(col(Asset.created_at).desc())
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        source = str((row.meta or {}).get('postprocess', {}).get('source_id') or '')
        out.append(ArchivedOutput(read(row), archive_reason(_report(session, row.id)), source))
    return out


def restore_output(session: Session, project_id: str, asset_id: str) -> AssetRead:
    """The artist overrules QA: the output is live again (offered on Pages); the report stays as it was measured."""
    row = get_asset(session, project_id, asset_id)
    if row.kind != AssetKind.derived or row.status != ReviewState.archived:
        raise Conflict('Only an archived post-process output can be restored.', code='not_archived')
    row.status = ReviewState.generated
    session.add(row)
    reason = archive_reason(_report(session, row.id))
    audit.record(
        session, project_id=project_id, action='asset.restore', payload={'asset_id': asset_id, 'archived_for': reason}
    )
    session.flush()
    return read(row)
