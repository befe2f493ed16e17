"""Scenes (J02): reference image, description and continuity state (time, weather, props, characters present)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models.assets import Asset
from models.references import Scene, SceneRead
from services.crud import apply_patch, clean_name, ensure_unique_name, get_owned
from services.errors import Invalid
from services.security import audit

TIMES = ('day', 'dusk', 'night')
WEATHERS = ('clear', 'rain', 'fog', 'snow')


def validate_continuity(cont: dict[str, Any]) -> dict[str, Any]:
    out = dict(cont)
    if out.get('time') and out['time'] not in TIMES:
        raise Invalid(f'continuity.time must be one of {", ".join(TIMES)}.', code='invalid_continuity')
    if out.get('weather') and out['weather'] not in WEATHERS:
        raise Invalid(f'continuity.weather must be one of {", ".join(WEATHERS)}.', code='invalid_continuity')
    for key in ('props', 'characters'):
        if key in out and not (isinstance(out[key], list) and all(isinstance(v, str) for v in out[key])):
            raise Invalid(f'continuity.{key} must be a list of names.', code='invalid_continuity')
    return out


def create_scene(
    session: Session,
    project_id: str,
    *,
    name: str,
    description: str = '',
    chapter: int | None = None,
    continuity: dict[str, Any] | None = None,
    reference_asset_id: str | None = None,
    sort_order: int | None = None,
) -> SceneRead:
    name = clean_name(name, 'Scene')
    ensure_unique_name(session, Scene, project_id, name)
    if reference_asset_id:
        get_owned(session, Asset, project_id, reference_asset_id)
    if sort_order is None:
        sort_order = len(session.exec(select(Scene.id).where(Scene.project_id == project_id)).all()) + 1
    row = Scene(
        project_id=project_id,
        name=name,
        description=description.strip(),
        chapter=chapter,
        sort_order=sort_order,
        continuity=validate_continuity(continuity or {}),
        reference_asset_id=reference_asset_id,
    )
    session.add(row)
    session.flush()
    if reference_asset_id:
        _tag_reference(session, row.id, reference_asset_id)
    audit.record(session, project_id=project_id, action='scene.create', payload={'name': name})
    return SceneRead.model_validate(row, from_attributes=True)


def _tag_reference(session: Session, scene_id: str, asset_id: str) -> None:
    """The scene's reference image carries the scene as a filter tag, so the gallery finds it by scene."""
    asset = session.get(Asset, asset_id)
    if asset is not None:
        asset.scene_id = scene_id
        session.add(asset)


def update_scene(session: Session, project_id: str, scene_id: str, **patch: Any) -> SceneRead:
    row = get_owned(session, Scene, project_id, scene_id)
    if 'name' in patch:
        patch['name'] = clean_name(patch['name'], 'Scene')
        ensure_unique_name(session, Scene, project_id, patch['name'], exclude_id=row.id)
    if 'continuity' in patch:
        patch['continuity'] = validate_continuity(patch['continuity'])
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
