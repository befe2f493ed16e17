"""Style guides (J02): rules, palette, do / don't text and their style reference images (assets tagged 'style')."""

from __future__ import annotations

from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import AssetKind
from models.references import StyleGuide, StyleGuideCreate, StyleGuideRead, StyleGuideUpdate
from services.crud import apply_patch, changes, ensure_unique_name, get_owned
from services.security import audit


def _read(session: Session, row: StyleGuide) -> StyleGuideRead:
    ids = session.exec(select(Asset.id).where(Asset.project_id == row.project_id, Asset.kind == AssetKind.style)).all()
    return StyleGuideRead.model_validate({**row.model_dump(), 'style_asset_ids': list(ids)})


def create_style_guide(session: Session, project_id: str, data: StyleGuideCreate) -> StyleGuideRead:
    name = data.name
    ensure_unique_name(session, StyleGuide, project_id, name)
    row = StyleGuide(project_id=project_id, **data.model_dump(exclude={'name'}), name=name)
    session.add(row)
    session.flush()
    audit.record(session, project_id=project_id, action='style_guide.create', payload={'name': name})
    return _read(session, row)


def update_style_guide(session: Session, project_id: str, guide_id: str, data: StyleGuideUpdate) -> StyleGuideRead:
    row = get_owned(session, StyleGuide, project_id, guide_id)
    patch = changes(data)
    if 'name' in patch:
        ensure_unique_name(session, StyleGuide, project_id, patch['name'], exclude_id=row.id)
    apply_patch(row, patch)
    session.add(row)
    audit.record(session, project_id=project_id, action='style_guide.update', payload={'id': row.id, **patch})
    return _read(session, row)


def delete_style_guide(session: Session, project_id: str, guide_id: str) -> None:
    row = get_owned(session, StyleGuide, project_id, guide_id)
    session.delete(row)
    audit.record(session, project_id=project_id, action='style_guide.delete', payload={'name': row.name})


def get_style_guide(session: Session, project_id: str, guide_id: str) -> StyleGuideRead:
    return _read(session, get_owned(session, StyleGuide, project_id, guide_id))


def list_style_guides(session: Session, project_id: str) -> list[StyleGuideRead]:
    rows = session.exec(select(StyleGuide).where(StyleGuide.project_id == project_id).order_by(col(StyleGuide.name)))
    return [_read(session, r) for r in rows]
