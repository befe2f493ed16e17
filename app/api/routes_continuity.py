"""The continuity ledger over the API: events, each scene's derived state, character bible versions and reference picks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from app.api.auth import Access, ApiContext
from app.api.errors import EnvelopeRoute
from models.continuity import ContinuityEventCreate, ReferencePick
from services.references import character_versions, characters, ledger, ledger_state

P = '/api/projects/{slug}'


def event_json(e: Any) -> dict[str, Any]:
    return {**jsonable_encoder(e), 'label': e.label, 'where': e.where}


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute, tags=['continuity'])
    sessions = ctx.deps.sessions

    @router.get(P + '/continuity')
    def list_events(a: Access = Depends(ctx.access), scene: str | None = Query(None, max_length=200)) -> dict[str, Any]:
        """The ledger's change events in story order; `scene` (name, id or chapter.position like 1.2) narrows it."""
        with sessions() as s:
            scene_id = ledger.resolve_scene(s, a.project.id, scene).id if scene else None
            rows = ledger.list_events(s, a.project.id, scene_id=scene_id)
        return {'ok': True, 'count': len(rows), 'events': [event_json(e) for e in rows]}

    @router.post(P + '/continuity', status_code=201)
    def add_event(body: ContinuityEventCreate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Record a change ("chapter 1, scene 2: night"); it holds from there until another event changes it."""
        with ctx.unit(a.principal, 'continuity.add', project_id=a.project.id) as u:
            row = ledger.add_event(u.session, a.project.id, body)
        return {'ok': True, 'event': event_json(row)}

    @router.delete(P + '/continuity/{event_id}')
    def remove_event(event_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'continuity.remove', project_id=a.project.id) as u:
            ledger.remove_event(u.session, a.project.id, event_id)
        return {'ok': True, 'deleted': True, 'id': event_id}

    @router.get(P + '/continuity/state/{scene}')
    def scene_state(
        scene: str, a: Access = Depends(ctx.access), panel: int | None = Query(None, ge=1, le=1000)
    ) -> dict[str, Any]:
        """What must hold in a scene (or from one of its panels on): every value with the event or scene it came from."""
        with sessions() as s:
            row = ledger.resolve_scene(s, a.project.id, scene)
            state = ledger_state.scene_state(s, a.project.id, row.id, panel)
        return {'ok': True, 'state': state.to_dict()}

    @router.get(P + '/characters/{character_id}/versions', tags=['characters'])
    def list_versions(character_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Every version of the character's bible, newest first, with the snapshot runs used."""
        with sessions() as s:
            rows = character_versions.list_versions(s, a.project.id, character_id)
        return {'ok': True, 'count': len(rows), 'versions': jsonable_encoder(rows)}

    @router.get(P + '/characters/{character_id}/versions/{old}/diff/{new}', tags=['characters'])
    def diff_versions(character_id: str, old: int, new: int, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            changes = character_versions.diff_versions(s, a.project.id, character_id, old, new)
        return {'ok': True, 'from': old, 'to': new, 'changes': [asdict(c) for c in changes]}

    @router.post(P + '/characters/{character_id}/references/pick', tags=['characters'])
    def pick_reference(character_id: str, body: ReferencePick, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Pin a reference (always sent first), exclude it (never sent) or let the planner choose (auto)."""
        with ctx.unit(a.principal, 'character.pick_reference', project_id=a.project.id) as u:
            characters.pick_reference(u.session, a.project.id, character_id, body.asset_id, body.choice)
            refs = characters.list_references(u.session, a.project.id, character_id)
        return {'ok': True, 'character_id': character_id, 'references': jsonable_encoder(refs)}

    return router
