"""Copilot chat (a message gets the reply and a proposal), the instruction queue, and the bootstrap prompt/import."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Access, ApiContext
from app.api.errors import EnvelopeRoute
from services.bootstrap import importer as bootstrap
from services.copilot import chat as copilot
from services.copilot import instructions
from services.copilot.chat import DEFAULT_TITLE, MAX_MESSAGE_CHARS
from services.errors import NotFound

P = '/api/projects/{slug}'
STATES = Literal['draft', 'pending_confirmation', 'queued', 'running', 'done', 'failed', 'canceled']


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


class SessionIn(Strict):
    title: str = Field(DEFAULT_TITLE, max_length=120)


class MessageIn(Strict):
    content: str = Field(max_length=MAX_MESSAGE_CHARS, description='What the artist asks, in plain words.')


class CancelIn(Strict):
    reason: str = Field('', max_length=500)


class ImportIn(Strict):
    answer: str | dict[str, Any] = Field(description="The chatbot's whole answer (prose around the JSON is fine).")
    mode: Literal['merge', 'replace'] | None = Field(None, description="Default: the answer's own mode, else merge.")
    dry_run: bool = Field(True, description='Preview only: nothing is written.')


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute)
    deps, sessions = ctx.deps, ctx.deps.sessions
    C = P + '/chat/sessions'

    @router.get(C, tags=['chat'])
    def list_sessions(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = copilot.list_sessions(s, a.project.id)
        return {'ok': True, 'count': len(rows), 'sessions': jsonable_encoder(rows)}

    @router.post(C, status_code=201, tags=['chat'])
    def create_session(body: SessionIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'chat.create_session', project_id=a.project.id) as u:
            row = copilot.create_session(u.session, a.project.id, title=body.title)
            u.payload['session_id'] = row.id
        return {'ok': True, 'session': jsonable_encoder(row)}

    @router.get(C + '/{session_id}', tags=['chat'])
    def get_session(session_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = next((r for r in copilot.list_sessions(s, a.project.id) if r.id == session_id), None)
        if row is None:
            raise NotFound('No such chat session in this project.', code='chat_not_found')
        return {'ok': True, 'session': jsonable_encoder(row)}

    @router.get(C + '/{session_id}/messages', tags=['chat'])
    def list_messages(
        session_id: str, limit: int = Query(500, ge=1, le=5000), a: Access = Depends(ctx.access)
    ) -> dict[str, Any]:
        with sessions() as s:
            rows = copilot.history(s, a.project.id, session_id, limit=limit)
        return {'ok': True, 'session_id': session_id, 'count': len(rows), 'messages': jsonable_encoder(rows)}

    @router.post(C + '/{session_id}/messages', status_code=201, tags=['chat'])
    def post_message(session_id: str, body: MessageIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Store the message and answer in the same call; an understood request comes back as a proposal to confirm."""
        with ctx.unit(a.principal, 'chat.message', project_id=a.project.id, payload={'session_id': session_id}) as u:
            posted = copilot.post_message(u.session, a.project, session_id, body.content, secrets=deps.secrets)
            u.payload['instruction_id'] = posted.instruction.id if posted.instruction else None
        return {'ok': True, 'message': jsonable_encoder(posted.message), 'reply': jsonable_encoder(posted.reply),
                'instruction': jsonable_encoder(posted.instruction) if posted.instruction else None}  # fmt: skip

    # -- instructions (the original's agent paths) -----------------------------------------------------------
    INS = P + '/agent/instructions'

    @router.get(INS, tags=['instructions'])
    def list_instructions(
        state: list[STATES] | None = Query(None),
        limit: int = Query(100, ge=1, le=1000),
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        with sessions() as s:
            rows = instructions.list_instructions(s, a.project.id, states=list(state) if state else None, limit=limit)
        return {'ok': True, 'count': len(rows), 'instructions': jsonable_encoder(rows)}

    @router.get(INS + '/{instruction_id}', tags=['instructions'])
    def get_instruction(instruction_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = instructions.get_instruction(s, a.project.id, instruction_id)
        return {'ok': True, 'instruction': jsonable_encoder(row)}

    @router.get(INS + '/{instruction_id}/events', tags=['instructions'])
    def instruction_events(instruction_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = instructions.list_events(s, a.project.id, instruction_id)
        return {'ok': True, 'instruction_id': instruction_id, 'count': len(rows), 'events': jsonable_encoder(rows)}

    @router.post(INS + '/{instruction_id}/confirm', tags=['instructions'])
    def confirm_instruction(instruction_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The artist saw the proposal and its cost: queue it (a failed one may be confirmed again)."""
        payload = {'instruction_id': instruction_id}
        with ctx.unit(a.principal, 'instruction.confirm', project_id=a.project.id, payload=payload) as u:
            row = instructions.confirm(u.session, a.project.id, instruction_id)
        deps.wake.instructions()
        return {'ok': True, 'instruction': jsonable_encoder(row)}

    @router.post(INS + '/{instruction_id}/cancel', tags=['instructions'])
    def cancel_instruction(instruction_id: str, body: CancelIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        payload = {'instruction_id': instruction_id, 'reason': body.reason}
        with ctx.unit(a.principal, 'instruction.cancel', project_id=a.project.id, payload=payload) as u:
            row = instructions.cancel(u.session, a.project.id, instruction_id, reason=body.reason)
        return {'ok': True, 'instruction': jsonable_encoder(row)}

    # -- bootstrap (J03) -------------------------------------------------------------------------------------
    @router.get(P + '/bootstrap/prompt', tags=['bootstrap'])
    def bootstrap_prompt(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The prompt to paste into any chatbot: task, answer shape, rules, current settings and usable images."""
        with sessions() as s:
            prompt = bootstrap.build_prompt(s, a.project)
        return {'ok': True, 'prompt': prompt}

    @router.post(P + '/bootstrap/import', tags=['bootstrap'])
    def bootstrap_import(body: ImportIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Validate the whole answer, then preview (dry_run) or apply it in one transaction; secrets never import."""
        who = a.principal
        if body.dry_run:
            with sessions() as s:
                report = bootstrap.import_answer(s, a.project, body.answer, mode=body.mode, dry_run=True)
                s.rollback()
        else:
            with ctx.unit(who, 'bootstrap.import', project_id=a.project.id) as u:
                report = bootstrap.import_answer(
                    u.session, a.project, body.answer, mode=body.mode, dry_run=False, actor=who.actor
                )
        return {'ok': True, 'report': report.to_dict(), 'lines': report.lines()}

    return router
