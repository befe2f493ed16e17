"""Continuity references (J02): characters with their reference images, style guides and scenes."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Access, ApiContext
from app.api.errors import EnvelopeRoute
from services import characters, scenes, style_guides

P = '/api/projects/{slug}'
Colour = str
Angle = Literal['front', 'three-quarter', 'side', 'back']


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


class CharacterIn(Strict):
    name: str = Field(max_length=200)
    bible: str = Field('', max_length=20_000)
    palette: list[Colour] = Field(default_factory=list, max_length=32)
    outfits: list[str] = Field(default_factory=list, max_length=32)


class CharacterPatch(Strict):
    name: str | None = Field(None, max_length=200)
    bible: str | None = Field(None, max_length=20_000)
    palette: list[Colour] | None = Field(None, max_length=32)
    outfits: list[str] | None = Field(None, max_length=32)


class CharacterRefIn(Strict):
    asset_id: str = Field(max_length=32)
    angle: Angle = 'front'
    expression: str = Field('', max_length=100)
    outfit: str = Field('', max_length=100)


class StyleGuideIn(Strict):
    name: str = Field(max_length=200)
    rules: str = Field('', max_length=20_000)
    do_text: str = Field('', max_length=20_000)
    dont_text: str = Field('', max_length=20_000)
    palette: list[Colour] = Field(default_factory=list, max_length=32)


class StyleGuidePatch(Strict):
    name: str | None = Field(None, max_length=200)
    rules: str | None = Field(None, max_length=20_000)
    do_text: str | None = Field(None, max_length=20_000)
    dont_text: str | None = Field(None, max_length=20_000)
    palette: list[Colour] | None = Field(None, max_length=32)


class SceneIn(Strict):
    name: str = Field(max_length=200)
    description: str = Field('', max_length=20_000)
    chapter: int | None = Field(None, ge=0, le=100_000)
    continuity: dict[str, Any] = Field(default_factory=dict, description='time, weather, props[], characters[]')
    reference_asset_id: str | None = Field(None, max_length=32)
    sort_order: int | None = Field(None, ge=0, le=1_000_000)


class ScenePatch(Strict):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=20_000)
    chapter: int | None = Field(None, ge=0, le=100_000)
    continuity: dict[str, Any] | None = None
    reference_asset_id: str | None = Field(None, max_length=32)
    sort_order: int | None = Field(None, ge=0, le=1_000_000)


def _patch(body: BaseModel) -> dict[str, Any]:
    """Fields sent explicitly as null are dropped too: a PATCH never blanks a field by accident."""
    return {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}


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
    def create_character(body: CharacterIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'character.create', project_id=a.project.id) as u:
            row = characters.create_character(u.session, a.project.id, **body.model_dump())
        return {'ok': True, 'character': jsonable_encoder(row)}

    @router.get(P + '/characters/{character_id}', tags=['characters'])
    def get_character(character_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = characters.get_character(s, a.project.id, character_id)
            refs = characters.list_references(s, a.project.id, character_id)
        return {'ok': True, 'character': jsonable_encoder(row), 'references': jsonable_encoder(refs)}

    @router.patch(P + '/characters/{character_id}', tags=['characters'])
    def update_character(character_id: str, body: CharacterPatch, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'character.update', project_id=a.project.id) as u:
            row = characters.update_character(u.session, a.project.id, character_id, **_patch(body))
        return {'ok': True, 'character': jsonable_encoder(row)}

    @router.delete(P + '/characters/{character_id}', tags=['characters'])
    def delete_character(character_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'character.delete', project_id=a.project.id) as u:
            characters.delete_character(u.session, a.project.id, character_id)
        return {'ok': True, 'deleted': True, 'id': character_id}

    @router.post(P + '/characters/{character_id}/references', status_code=201, tags=['characters'])
    def add_reference(character_id: str, body: CharacterRefIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Tag an image of the project as this character's reference (angle, expression, outfit)."""
        payload = {'character_id': character_id, 'asset_id': body.asset_id, 'angle': body.angle}
        with ctx.unit(a.principal, 'character.add_reference', project_id=a.project.id, payload=payload) as u:
            characters.add_reference(u.session, a.project.id, character_id, **body.model_dump())
            refs = characters.list_references(u.session, a.project.id, character_id)
        return {'ok': True, 'character_id': character_id, 'references': jsonable_encoder(refs)}

    @router.delete(P + '/characters/{character_id}/references/{asset_id}', tags=['characters'])
    def remove_reference(character_id: str, asset_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Unlink the image from the character; the image stays in the project."""
        with ctx.unit(a.principal, 'character.remove_reference', project_id=a.project.id) as u:
            characters.remove_reference(u.session, a.project.id, character_id, asset_id)
        return {'ok': True, 'deleted': True, 'id': asset_id}

    # -- style guides ----------------------------------------------------------------------------------------
    @router.get(P + '/style-guides', tags=['style guides'])
    def list_style_guides(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = style_guides.list_style_guides(s, a.project.id)
        return {'ok': True, 'count': len(rows), 'style_guides': jsonable_encoder(rows)}

    @router.post(P + '/style-guides', status_code=201, tags=['style guides'])
    def create_style_guide(body: StyleGuideIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'style_guide.create', project_id=a.project.id) as u:
            row = style_guides.create_style_guide(u.session, a.project.id, **body.model_dump())
        return {'ok': True, 'style_guide': jsonable_encoder(row)}

    @router.get(P + '/style-guides/{guide_id}', tags=['style guides'])
    def get_style_guide(guide_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = style_guides.get_style_guide(s, a.project.id, guide_id)
        return {'ok': True, 'style_guide': jsonable_encoder(row)}

    @router.patch(P + '/style-guides/{guide_id}', tags=['style guides'])
    def update_style_guide(guide_id: str, body: StyleGuidePatch, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'style_guide.update', project_id=a.project.id) as u:
            row = style_guides.update_style_guide(u.session, a.project.id, guide_id, **_patch(body))
        return {'ok': True, 'style_guide': jsonable_encoder(row)}

    @router.delete(P + '/style-guides/{guide_id}', tags=['style guides'])
    def delete_style_guide(guide_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'style_guide.delete', project_id=a.project.id) as u:
            style_guides.delete_style_guide(u.session, a.project.id, guide_id)
        return {'ok': True, 'deleted': True, 'id': guide_id}

    # -- scenes ----------------------------------------------------------------------------------------------
    @router.get(P + '/scenes', tags=['scenes'])
    def list_scenes(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = scenes.list_scenes(s, a.project.id)
        return {'ok': True, 'count': len(rows), 'scenes': jsonable_encoder(rows)}

    @router.post(P + '/scenes', status_code=201, tags=['scenes'])
    def create_scene(body: SceneIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'scene.create', project_id=a.project.id) as u:
            row = scenes.create_scene(u.session, a.project.id, **body.model_dump())
        return {'ok': True, 'scene': jsonable_encoder(row)}

    @router.get(P + '/scenes/{scene_id}', tags=['scenes'])
    def get_scene(scene_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = scenes.get_scene(s, a.project.id, scene_id)
        return {'ok': True, 'scene': jsonable_encoder(row)}

    @router.patch(P + '/scenes/{scene_id}', tags=['scenes'])
    def update_scene(scene_id: str, body: ScenePatch, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'scene.update', project_id=a.project.id) as u:
            row = scenes.update_scene(u.session, a.project.id, scene_id, **_patch(body))
        return {'ok': True, 'scene': jsonable_encoder(row)}

    @router.delete(P + '/scenes/{scene_id}', tags=['scenes'])
    def delete_scene(scene_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'scene.delete', project_id=a.project.id) as u:
            scenes.delete_scene(u.session, a.project.id, scene_id)
        return {'ok': True, 'deleted': True, 'id': scene_id}

    return router
