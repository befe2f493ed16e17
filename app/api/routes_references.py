"""Continuity references (J02): characters with their reference images, style guides and scenes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder

from app.api.auth import Access, ApiContext
from app.api.crud_routes import add_crud_routes, without_nulls
from app.api.errors import EnvelopeRoute
from models.references import (
    CharacterCreate,
    CharacterReferenceCreate,
    CharacterUpdate,
    SceneCreate,
    SceneUpdate,
    StyleGuideCreate,
    StyleGuideUpdate,
)
from services.references import characters, scenes, style_guides

P = '/api/projects/{slug}'


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute)
    sessions = ctx.deps.sessions

    # -- characters ------------------------------------------------------------------------------------------
    @router.get(P + '/characters', tags=['characters'])
    def list_characters(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = characters.list_characters(s, a.project.id)
        return {'ok': True, 'count': len(rows), 'characters': jsonable_encoder(rows)}

    @router.post(P + '/characters', status_code=201, tags=['characters'])
    def create_character(body: CharacterCreate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'character.create', project_id=a.project.id) as u:
            row = characters.create_character(u.session, a.project.id, body)
        return {'ok': True, 'character': jsonable_encoder(row)}

    @router.get(P + '/characters/{character_id}', tags=['characters'])
    def get_character(character_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = characters.get_character(s, a.project.id, character_id)
            refs = characters.list_references(s, a.project.id, character_id)
        return {'ok': True, 'character': jsonable_encoder(row), 'references': jsonable_encoder(refs)}

    @router.patch(P + '/characters/{character_id}', tags=['characters'])
    def update_character(character_id: str, body: CharacterUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'character.update', project_id=a.project.id) as u:
            row = characters.update_character(u.session, a.project.id, character_id, without_nulls(body))
        return {'ok': True, 'character': jsonable_encoder(row)}

    @router.delete(P + '/characters/{character_id}', tags=['characters'])
    def delete_character(character_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'character.delete', project_id=a.project.id) as u:
            characters.delete_character(u.session, a.project.id, character_id)
        return {'ok': True, 'deleted': True, 'id': character_id}

    @router.post(P + '/characters/{character_id}/references', status_code=201, tags=['characters'])
    def add_reference(
        character_id: str, body: CharacterReferenceCreate, a: Access = Depends(ctx.access)
    ) -> dict[str, Any]:
        """Tag an image of the project as this character's reference (angle, expression, outfit)."""
        payload = {'character_id': character_id, 'asset_id': body.asset_id, 'angle': body.angle}
        with ctx.unit(a.principal, 'character.add_reference', project_id=a.project.id, payload=payload) as u:
            characters.add_reference(u.session, a.project.id, character_id, body)
            refs = characters.list_references(u.session, a.project.id, character_id)
        return {'ok': True, 'character_id': character_id, 'references': jsonable_encoder(refs)}

    @router.delete(P + '/characters/{character_id}/references/{asset_id}', tags=['characters'])
    def remove_reference(character_id: str, asset_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Unlink the image from the character; the image stays in the project."""
        with ctx.unit(a.principal, 'character.remove_reference', project_id=a.project.id) as u:
            characters.remove_reference(u.session, a.project.id, character_id, asset_id)
        return {'ok': True, 'deleted': True, 'id': asset_id}

    add_crud_routes(
        router,
        ctx,
        path=P + '/style-guides',
        singular='style_guide',
        plural='style_guides',
        tag='style guides',
        create_model=StyleGuideCreate,
        update_model=StyleGuideUpdate,
        list_fn=style_guides.list_style_guides,
        get_fn=style_guides.get_style_guide,
        create_fn=style_guides.create_style_guide,
        update_fn=style_guides.update_style_guide,
        delete_fn=style_guides.delete_style_guide,
    )
    add_crud_routes(
        router,
        ctx,
        path=P + '/scenes',
        singular='scene',
        plural='scenes',
        tag='scenes',
        create_model=SceneCreate,
        update_model=SceneUpdate,
        list_fn=scenes.list_scenes,
        get_fn=scenes.get_scene,
        create_fn=scenes.create_scene,
        update_fn=scenes.update_scene,
        delete_fn=scenes.delete_scene,
    )
    return router
