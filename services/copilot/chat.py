"""Copilot chat per project: sessions and messages; a message gets a reply in the same call, and a proposal if understood."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import STAGE_ORDER, AssetKind, ProviderKind, ReviewState, utcnow
from models.ops import ChatMessage, ChatSession
from models.project import ProjectRead
from models.provider import ProviderAccount
from services.copilot import instructions
from services.copilot.handlers import run_request
from services.copilot.instructions import InstructionView
from services.copilot.interpreter import DEFAULT_PROFILES, Named, NotUnderstood, Proposal, Vocabulary
from services.copilot.llm import LLMInterpreter, interpret_with_fallback
from services.errors import Invalid, KromaError, NotFound
from services.postprocess.runs import colour_profiles
from services.providers import accounts as provider_accounts
from services.references import characters, scenes
from services.runs import control as runs
from services.security import audit

log = logging.getLogger(__name__)

ROLES = ('user', 'assistant', 'system')
DEFAULT_TITLE = 'New session'
MAX_MESSAGE_CHARS = 4000


@dataclass(frozen=True)
class ChatSessionView:
    id: str
    project_id: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MessageView:
    id: str
    session_id: str
    role: str
    content: str
    instruction_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Posted:
    """The artist's message, the copilot's reply and the proposed instruction (None when nothing was understood)."""

    message: MessageView
    reply: MessageView
    instruction: InstructionView | None


def _session_view(row: ChatSession) -> ChatSessionView:
    return ChatSessionView(row.id, row.project_id, row.title, row.created_at, row.updated_at)


def _message_view(row: ChatMessage) -> MessageView:
    return MessageView(row.id, row.session_id, row.role, row.content, row.instruction_id, row.created_at)


def _chat(session: Session, project_id: str, session_id: str) -> ChatSession:
    row = session.get(ChatSession, session_id)
    if row is None or row.project_id != project_id:
        raise NotFound('No such chat session in this project.', code='chat_not_found')
    return row


def _title(title: str) -> str:
    title = ' '.join((title or '').split())
    if not title:
        raise Invalid('A chat needs a title.', code='title_required')
    return title[:120]


def create_session(session: Session, project_id: str, *, title: str = DEFAULT_TITLE) -> ChatSessionView:
    row = ChatSession(project_id=project_id, title=_title(title))
    session.add(row)
    session.flush()
    audit.record(session, project_id=project_id, action='chat.create_session', payload={'session_id': row.id})
    return _session_view(row)


def rename_session(session: Session, project_id: str, session_id: str, title: str) -> ChatSessionView:
    row = _chat(session, project_id, session_id)
    row.title, row.updated_at = _title(title), utcnow()
    session.add(row)
    session.flush()
    payload = {'session_id': row.id, 'title': row.title}
    audit.record(session, project_id=project_id, action='chat.rename_session', payload=payload)
    return _session_view(row)


def list_sessions(session: Session, project_id: str) -> list[ChatSessionView]:
    """Most recently active first."""
    rows = session.exec(
        select(ChatSession).where(ChatSession.project_id == project_id).order_by(col(ChatSession.updated_at).desc())
    ).all()
    return [_session_view(r) for r in rows]


def history(session: Session, project_id: str, session_id: str, *, limit: int = 500) -> list[MessageView]:
    _chat(session, project_id, session_id)
    rows = session.exec(
        select(ChatMessage)
        .where(ChatMessage.session_id == session_id)
        .order_by(col(ChatMessage.created_at), col(ChatMessage.id))
        .limit(limit)
    ).all()
    return [_message_view(r) for r in rows]


def add_message(
    session: Session, project_id: str, session_id: str, role: str, content: str, *, instruction_id: str | None = None
) -> MessageView:
    """Append to the transcript and bump the session, so the most active chat lists first."""
    if role not in ROLES:
        raise Invalid(f'Role must be one of {", ".join(ROLES)}.', code='invalid_role')
    chat = _chat(session, project_id, session_id)
    row = ChatMessage(
        project_id=project_id, session_id=session_id, role=role, content=content, instruction_id=instruction_id
    )
    chat.updated_at = row.created_at
    session.add_all([row, chat])
    session.flush()
    return _message_view(row)


def current_stages(session: Session, project_id: str) -> dict[str, str]:
    """Each scene's current stage: the latest stage with an approved or generated output for it (else style)."""
    rows = session.exec(
        select(Asset.scene_id, Asset.stage).where(
            Asset.project_id == project_id,
            Asset.kind == AssetKind.candidate,
            col(Asset.scene_id).is_not(None),
            col(Asset.status).in_([ReviewState.approved, ReviewState.generated, ReviewState.shortlisted]),
        )
    ).all()
    order = [s.value for s in STAGE_ORDER]
    out: dict[str, str] = {}
    for scene_id, stage in rows:
        if stage in order and order.index(stage) >= order.index(out.get(scene_id, 'style')):
            out[scene_id] = stage
    return out


def vocabulary(session: Session, project: ProjectRead) -> Vocabulary:
    """The project's own words: scenes in run order (so 'scene 2' means what the runs page shows), characters."""
    profiles = DEFAULT_PROFILES
    try:
        profiles = tuple(colour_profiles(project))
    except (ImportError, AttributeError) as e:
        log.debug('colour profiles unavailable (%s); using the built-in names', e)
    stage = current_stages(session, project.id)
    return Vocabulary(
        scenes=tuple(Named(s.id, s.name, stage.get(s.id, 'style')) for s in scenes.list_scenes(session, project.id)),
        characters=tuple(Named(c.id, c.name) for c in characters.list_characters(session, project.id)),
        profiles=profiles,
    )


def chat_account(session: Session, project_id: str) -> ProviderAccount | None:
    """The project's own chat account wins over a global one."""
    rows = session.exec(
        select(ProviderAccount).where(
            ProviderAccount.kind == ProviderKind.chat,
            or_(col(ProviderAccount.project_id).is_(None), ProviderAccount.project_id == project_id),
        )
    ).all()
    return sorted(rows, key=lambda r: (r.project_id is None, r.name))[0] if rows else None


def llm_for(session: Session, project: ProjectRead, secrets: object) -> LLMInterpreter | None:
    account = chat_account(session, project.id)
    if account is None:
        return None
    return LLMInterpreter(provider_accounts.provider_config(session, account.id, secrets=secrets))  # type: ignore[arg-type]


def _estimate(session: Session, project: ProjectRead, proposal: Proposal, secrets: object) -> tuple[dict, str]:
    """For a run: the same plan as the runs page (jobs, candidates, cost, blocked scenes); other types cost nothing."""
    if proposal.type != 'pipeline_run':
        return {'cost_usd': 0.0}, 'It makes no generation calls, so it costs nothing.'
    plan, account = runs.plan(
        session, project, run_request({'inputs': proposal.inputs, 'constraints': proposal.constraints}), secrets=secrets
    )
    jobs = plan.runnable
    n = len(jobs) * plan.request.candidates
    blocked = [{'scene': j.scene_name, 'reason': j.blocked} for j in plan.jobs if j.blocked]
    if not jobs:
        raise Invalid(
            'Nothing to run: ' + '; '.join(f'{b["scene"]}: {b["reason"]}' for b in blocked), code='nothing_to_run'
        )
    estimate = {
        'jobs': len(jobs),
        'candidates': n,
        'cost_usd': plan.total_cost_usd,
        'offline': plan.provider_offline,
        'provider': account.name,
        'remaining_budget_usd': plan.remaining_budget_usd,
        'blocked': blocked,
    }
    cost = 'free (offline renderer)' if plan.provider_offline else f'about ${plan.total_cost_usd:.2f}'
    text = f'{len(jobs)} job(s), {n} candidate{"s" if n != 1 else ""}; cost: {cost}.'
    if blocked:
        text += f' Skipped: {", ".join(b["scene"] for b in blocked)} (blocked).'
    if not plan.provider_offline and plan.total_cost_usd > plan.remaining_budget_usd:
        text += f' That is over the ${plan.remaining_budget_usd:.2f} left in the budget, so it would be refused.'
    return estimate, text


def _not_understood(result: NotUnderstood) -> str:
    tips = '; '.join(f'“{s}”' for s in result.suggestions[:5])
    return f'I did not understand that, so I have not proposed anything. {result.message} You could say: {tips}.'


def post_message(
    session: Session,
    project: ProjectRead,
    session_id: str,
    text: str,
    *,
    secrets: object = None,
    llm: LLMInterpreter | None = None,
) -> Posted:
    """Store the message, interpret it and answer in the same call; an understood request becomes a proposal."""
    chat = _chat(session, project.id, session_id)
    text = (text or '').strip()
    if not text:
        raise Invalid('Type a message first.', code='empty_message')
    if len(text) > MAX_MESSAGE_CHARS:
        raise Invalid(f'Messages are limited to {MAX_MESSAGE_CHARS} characters.', code='message_too_long')
    vocab = vocabulary(session, project)
    result, note = interpret_with_fallback(text, vocab, llm or llm_for(session, project, secrets))
    if chat.title == DEFAULT_TITLE:
        chat.title = text[:60]
    mine = add_message(session, project.id, session_id, 'user', text)
    prefix = f'{note} ' if note else ''
    if isinstance(result, NotUnderstood):
        reply = add_message(session, project.id, session_id, 'assistant', prefix + _not_understood(result))
        return _posted(session, project, Posted(mine, reply, None))
    try:
        estimate, cost_text = _estimate(session, project, result, secrets)
    except KromaError as e:
        reply = add_message(
            session, project.id, session_id, 'assistant', f'{prefix}I cannot propose that: {e.user_message}'
        )
        return _posted(session, project, Posted(mine, reply, None))
    payload = {
        'inputs': result.inputs,
        'constraints': result.constraints,
        'estimate': estimate,
        'source': result.source,
    }
    proposed = instructions.propose(
        session,
        project.id,
        type=result.type,
        objective=result.objective,
        payload=payload,
        cost_usd=float(estimate.get('cost_usd', 0.0)),
        session_id=session_id,
    )
    content = f'{prefix}Here is what I would do: {result.objective}. {cost_text} Confirm to queue it, or cancel.'
    reply = add_message(session, project.id, session_id, 'assistant', content, instruction_id=proposed.id)
    return _posted(session, project, Posted(mine, reply, proposed))


def _posted(session: Session, project: ProjectRead, posted: Posted) -> Posted:
    """One event per message, whatever the answer was: ids and whether an instruction was proposed, never the text."""
    payload = {'session_id': posted.message.session_id, 'message_id': posted.message.id}
    payload |= {'proposed': posted.instruction is not None, 'instruction_id': getattr(posted.instruction, 'id', None)}
    audit.record(session, project_id=project.id, action='chat.message', payload=payload)
    return posted
