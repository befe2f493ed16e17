"""Reference sets with their ordered items, and versioned prompt templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from app.api.auth import Access, ApiContext
from app.api.crud_routes import without_nulls
from app.api.errors import EnvelopeRoute
from models.references import (
    PromptTemplateCreate,
    ReferenceSetCreate,
    ReferenceSetItemCreate,
    ReferenceSetOrder,
    ReferenceSetUpdate,
)
from services.errors import NotFound
from services.references import prompt_templates as prompts
from services.references import reference_sets

P = '/api/projects/{slug}'


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute)
    sessions = ctx.deps.sessions
    S = P + '/reference-sets'

    @router.get(S, tags=['reference sets'])
    def list_sets(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = reference_sets.list_sets(s, a.project.id)
        return {'ok': True, 'count': len(rows), 'reference_sets': jsonable_encoder(rows)}

    @router.post(S, status_code=201, tags=['reference sets'])
    def create_set(body: ReferenceSetCreate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        who = a.principal
        with ctx.unit(who, 'reference_set.create', project_id=a.project.id) as u:
            row = reference_sets.create_set(u.session, a.project.id, body, actor=who.actor)
        return {'ok': True, 'reference_set': jsonable_encoder(row)}

    @router.get(S + '/{set_id}', tags=['reference sets'])
    def get_set(set_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = reference_sets.get_set(s, a.project.id, set_id)
        return {'ok': True, 'reference_set': jsonable_encoder(row)}

    @router.patch(S + '/{set_id}', tags=['reference sets'])
    def update_set(set_id: str, body: ReferenceSetUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        who = a.principal
        with ctx.unit(who, 'reference_set.update', project_id=a.project.id) as u:
            row = reference_sets.update_set(u.session, a.project.id, set_id, without_nulls(body), actor=who.actor)
        return {'ok': True, 'reference_set': jsonable_encoder(row)}

    @router.delete(S + '/{set_id}', tags=['reference sets'])
    def delete_set(set_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The set and its items go together (the images stay in the project)."""
        who = a.principal
        with ctx.unit(who, 'reference_set.delete', project_id=a.project.id) as u:
            reference_sets.delete_set(u.session, a.project.id, set_id, actor=who.actor)
        return {'ok': True, 'deleted': True, 'id': set_id}

    @router.get(S + '/{set_id}/items', tags=['reference sets'])
    def list_items(set_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = reference_sets.get_set(s, a.project.id, set_id)
        return {'ok': True, 'reference_set_id': set_id, 'count': len(row.items), 'items': jsonable_encoder(row.items)}

    @router.post(S + '/{set_id}/items', status_code=201, tags=['reference sets'])
    def add_item(set_id: str, body: ReferenceSetItemCreate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Append an image or a note at the end of the set."""
        who = a.principal
        with ctx.unit(who, 'reference_set.add_item', project_id=a.project.id) as u:
            row = reference_sets.add_item(u.session, a.project.id, set_id, body, actor=who.actor)
        return {'ok': True, 'item': jsonable_encoder(row.items[-1]), 'reference_set': jsonable_encoder(row)}

    @router.put(S + '/{set_id}/items/order', tags=['reference sets'])
    def reorder_items(set_id: str, body: ReferenceSetOrder, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'reference_set.reorder', project_id=a.project.id, payload={'set_id': set_id}) as u:
            row = reference_sets.reorder_items(u.session, a.project.id, set_id, body.item_ids)
        return {'ok': True, 'reference_set': jsonable_encoder(row)}

    @router.delete(S + '/{set_id}/items/{item_id}', tags=['reference sets'])
    def remove_item(set_id: str, item_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        who = a.principal
        with ctx.unit(who, 'reference_set.remove_item', project_id=a.project.id) as u:
            reference_sets.get_set(u.session, a.project.id, set_id)
            row = reference_sets.remove_item(u.session, a.project.id, item_id, actor=who.actor)
            if row.id != set_id:
                raise _item_not_in_set()
        return {'ok': True, 'deleted': True, 'id': item_id}

    # -- prompt templates ------------------------------------------------------------------------------------
    T = P + '/prompt-templates'

    @router.get(T, tags=['prompt templates'])
    def list_templates(all_versions: bool = Query(False), a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The current version of each template (or every version)."""
        with sessions() as s:
            rows = prompts.list_templates(s, a.project.id, all_versions=all_versions)
        return {'ok': True, 'count': len(rows), 'prompt_templates': jsonable_encoder(rows)}

    @router.post(T, status_code=201, tags=['prompt templates'])
    def save_template(body: PromptTemplateCreate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Every save is a new version; unknown or formatted {placeholders} are refused before saving."""
        with ctx.unit(a.principal, 'prompt_template.save', project_id=a.project.id) as u:
            row = prompts.save_template(u.session, a.project.id, body)
        return {'ok': True, 'prompt_template': jsonable_encoder(row)}

    @router.get(T + '/{name}', tags=['prompt templates'])
    def template_versions(name: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Every version of one template, newest (current) first."""
        with sessions() as s:
            rows = prompts.template_versions(s, a.project.id, name)
        if not rows:
            raise _template_missing(name)
        return {'ok': True, 'prompt_template': jsonable_encoder(rows[0]), 'versions': jsonable_encoder(rows)}

    @router.delete(T + '/{name}', tags=['prompt templates'])
    def delete_template(name: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Remove a template with all its versions; runs fall back to the stage default."""
        with ctx.unit(a.principal, 'prompt_template.delete', project_id=a.project.id) as u:
            removed = prompts.delete_template(u.session, a.project.id, name)
            if not removed:
                raise _template_missing(name)
        return {'ok': True, 'deleted': True, 'id': name, 'versions': removed}

    return router


def _template_missing(name: str) -> NotFound:
    return NotFound(f'No prompt template named "{name}" in this project.')


def _item_not_in_set() -> NotFound:
    return NotFound('That item is not in this reference set.')
