"""Scenes (J02): reference image, description and continuity state (time, weather, props, characters present)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from models.assets import Asset
from models.references import TIMES as TIMES  # re-exported: the run planner and pages read them here
from models.references import WEATHERS as WEATHERS
from models.references import Scene, SceneCreate, SceneRead, SceneUpdate
from services.crud import apply_patch, changes, ensure_unique_name, get_owned
from services.security import audit


def create_scene(session: Session, project_id: str, data: SceneCreate) -> SceneRead:
    name = data.name
    ensure_unique_name(session, Scene, project_id, name)
    if data.reference_asset_id:
        get_owned(session, Asset, project_id, data.reference_asset_id)
    sort_order = data.sort_order
    if sort_order is None:
        sort_order = len(session.exec(select(Scene.id).where(Scene.project_id == project_id)).all()) + 1
    row = Scene(
        project_id=project_id,
        name=name,
        description=data.description,
        chapter=data.chapter,
        sort_order=sort_order,
        continuity=data.continuity.stored(),
        reference_asset_id=data.reference_asset_id or None,
    )
    session.add(row)
    session.flush()
    if row.reference_asset_id:
        _tag_reference(session, row.id, row.reference_asset_id)
    audit.record(session, project_id=project_id, action='scene.create', payload={'name': name})
    return SceneRead.model_validate(row, from_attributes=True)


def _tag_reference(session: Session, scene_id: str, asset_id: str) -> None:
    """The scene's reference image carries the scene as a filter tag, so the gallery finds it by scene."""
    asset = session.get(Asset, asset_id)
    if asset is not None:
        asset.scene_id = scene_id
        session.add(asset)


def update_scene(session: Session, project_id: str, scene_id: str, data: SceneUpdate) -> SceneRead:
    row = get_owned(session, Scene, project_id, scene_id)
    patch = changes(data, nullable=('chapter', 'reference_asset_id'))
    if 'name' in patch:
        ensure_unique_name(session, Scene, project_id, patch['name'], exclude_id=row.id)
    if data.continuity is not None:
        patch['continuity'] = data.continuity.stored()
    if 'reference_asset_id' in patch:
        patch['reference_asset_id'] = patch['reference_asset_id'] or None
    if patch.get('reference_asset_id'):
        get_owned(session, Asset, project_id, patch['reference_asset_id'])
        _tag_reference(session, row.id, patch['reference_asset_id'])
    apply_patch(row, patch)
    session.add(row)
    audit.record(session, project_id=project_id, action='scene.update', payload={'id': row.id, **patch})
    return SceneRead.model_validate(row, from_attributes=True)


def delete_scene(session: Session, project_id: str, scene_id: str) -> None:
    row = get_owned(session, Scene, project_id, scene_id)
    session.delete(row)
    audit.record(session, project_id=project_id, action='scene.delete', payload={'name': row.name})


def list_scenes(session: Session, project_id: str) -> list[SceneRead]:
    rows = session.exec(
        select(Scene).where(Scene.project_id == project_id).order_by(col(Scene.sort_order), col(Scene.name))
    )
    return [SceneRead.model_validate(r, from_attributes=True) for r in rows]


def get_scene(session: Session, project_id: str, scene_id: str) -> SceneRead:
    return SceneRead.model_validate(get_owned(session, Scene, project_id, scene_id), from_attributes=True)
