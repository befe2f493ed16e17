"""Instructions (copilot → queue): confirm/cancel, an event per transition, atomic claims, stale-lock recovery, work."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.base import InstructionState as S
from models.base import utcnow
from models.db import SessionFactory
from models.ops import Instruction, InstructionEvent
from models.project import ProjectRead
from services.errors import Conflict, KromaError, NotFound
from services.projects import projects
from services.runs import holders
from services.runs import queue as run_queue
from services.security import audit

log = logging.getLogger(__name__)

Handler = Callable[[SessionFactory, ProjectRead, dict[str, Any]], dict[str, Any]]
RETRY_BACKOFF_S = 10.0


@dataclass(frozen=True)
class EventView:
    event: str
    message: str
    created_at: datetime


@dataclass(frozen=True)
class InstructionView:
    """What the card, the queue page and the API show; never a live row."""

    id: str
    project_id: str
    session_id: str | None
    type: str
    objective: str
    payload: dict[str, Any]
    cost_estimate_usd: float
    state: str
    attempts: int
    max_attempts: int
    locked_by: str | None
    last_error: str
    result: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def inputs(self) -> dict[str, Any]:
        return self.payload.get('inputs', {})

    @property
    def constraints(self) -> dict[str, Any]:
        return self.payload.get('constraints', {})

    @property
    def estimate(self) -> dict[str, Any]:
        return self.payload.get('estimate', {})


def view(row: Instruction) -> InstructionView:
    return InstructionView(
        **{k: getattr(row, k) for k in InstructionView.__dataclass_fields__ if k != 'state'}, state=row.state.value
    )


def _row(session: Session, project_id: str | None, instruction_id: str) -> Instruction:
    row = session.get(Instruction, instruction_id)
    if row is None or (project_id is not None and row.project_id != project_id):
        raise NotFound('No such instruction in this project.', code='instruction_not_found')
    return row


def _event(session: Session, row: Instruction, event: str, message: str) -> None:
    session.add(InstructionEvent(project_id=row.project_id, instruction_id=row.id, event=event, message=message))


def _move(session: Session, row: Instruction, state: S, event: str, message: str) -> None:
    """Every transition is a row in the timeline, so the page can always tell the story."""
    row.state, row.updated_at = state, utcnow()
    session.add(row)
    _event(session, row, event, message)
    session.flush()
    log.info('instruction %s → %s (%s): %s', row.id[:8], state.value, event, message)


def propose(
    session: Session,
    project_id: str,
    *,
    type: str,
    objective: str,
    payload: dict[str, Any],
    cost_usd: float = 0.0,
    session_id: str | None = None,
) -> InstructionView:
    """A draft that at once waits for the artist: nothing is queued without their confirmation."""
    row = Instruction(project_id=project_id, session_id=session_id, type=type, objective=objective, payload=payload)
    row.cost_estimate_usd = cost_usd
    session.add(row)
    session.flush()
    _event(session, row, 'created', objective)
    _move(session, row, S.pending_confirmation, 'proposed', f'Waiting for confirmation; estimated ${cost_usd:.2f}.')
    return view(row)


def get_instruction(session: Session, project_id: str, instruction_id: str) -> InstructionView:
    return view(_row(session, project_id, instruction_id))


def list_instructions(
    session: Session, project_id: str, *, states: list[str] | None = None, limit: int = 100
) -> list[InstructionView]:
    query = select(Instruction).where(Instruction.project_id == project_id)
    if states:
        query = query.where(col(Instruction.state).in_(states))
    rows = session.exec(query.order_by(col(Instruction.created_at).desc()).limit(limit)).all()
    return [view(r) for r in rows]


def list_events(session: Session, project_id: str, instruction_id: str) -> list[EventView]:
    _row(session, project_id, instruction_id)
    rows = session.exec(
        select(InstructionEvent)
        .where(InstructionEvent.instruction_id == instruction_id)
        .order_by(col(InstructionEvent.created_at), col(InstructionEvent.id))
    ).all()
    return [EventView(r.event, r.message, r.created_at) for r in rows]


def confirm(session: Session, project_id: str, instruction_id: str) -> InstructionView:
    """The artist saw the card and its cost; a failed one may be confirmed again, with its attempts reset."""
    row = _row(session, project_id, instruction_id)
    if row.state in (S.queued, S.running):
        return view(row)
    if row.state in (S.done, S.canceled):
        raise Conflict(f'This instruction is already {row.state.value}.', code='instruction_finished')
    again = row.state == S.failed
    row.payload = {**row.payload, 'confirmed': True, 'not_before': None}
    row.attempts, row.last_error, row.locked_by, row.locked_at = 0, '', None, None
    _move(session, row, S.queued, 'confirmed', 'Confirmed again after a failure.' if again else 'Confirmed; queued.')
    payload = {'instruction_id': row.id, 'type': row.type, 'again': again, 'cost_estimate_usd': row.cost_estimate_usd}
    audit.record(session, project_id=row.project_id, action='instruction.confirm', payload=payload)
    return view(row)


def cancel(session: Session, project_id: str, instruction_id: str, *, reason: str = '') -> InstructionView:
    """Cancel before it runs; a running one is marked canceled and its late result is ignored."""
    row = _row(session, project_id, instruction_id)
    if row.state == S.canceled:
        return view(row)
    if row.state in (S.done, S.failed):
        raise Conflict(f'This instruction is already {row.state.value}.', code='instruction_finished')
    was = row.state.value
    row.locked_by, row.locked_at = None, None
    _move(session, row, S.canceled, 'canceled', reason or 'Canceled by the artist.')
    payload = {'instruction_id': row.id, 'type': row.type, 'was': was, 'reason': reason}
    audit.record(session, project_id=row.project_id, action='instruction.cancel', payload=payload)
    return view(row)


def _due(row: Instruction, now: datetime) -> bool:
    not_before = row.payload.get('not_before')
    return not not_before or datetime.fromisoformat(not_before) <= now


def claim_next(session: Session, worker: str, *, now: datetime | None = None) -> InstructionView | None:
    """Lock the oldest due queued instruction with one guarded UPDATE, so two workers never run the same one."""
    now = now or utcnow()
    rows = session.exec(
        select(Instruction).where(Instruction.state == S.queued).order_by(col(Instruction.created_at)).limit(20)
    ).all()
    for row in (r for r in rows if _due(r, now)):
        won = session.execute(
            update(Instruction)
            .where(col(Instruction.id) == row.id, col(Instruction.state) == S.queued)
            .values(state=S.running, locked_by=worker, locked_at=now, attempts=Instruction.attempts + 1, updated_at=now)
        )
        if won.rowcount != 1:
            continue
        session.refresh(row)
        _event(session, row, 'started', f'Worker {worker} started it (attempt {row.attempts} of {row.max_attempts}).')
        session.flush()
        return view(row)
    return None


def _still_mine(session: Session, instruction_id: str, worker: str) -> Instruction | None:
    """A result only lands if this worker still holds the lock: cancel and recovery win over a late finish."""
    row = session.get(Instruction, instruction_id)
    if row is None or row.state != S.running or row.locked_by != worker:
        log.warning('instruction %s finished on %s but is no longer held by it; result ignored', instruction_id, worker)
        return None
    row.locked_by, row.locked_at = None, None
    return row


def complete(session: Session, instruction_id: str, worker: str, result: dict[str, Any]) -> None:
    """Record the result; if the artist canceled meanwhile, a run it queued is canceled too."""
    row = _still_mine(session, instruction_id, worker)
    if row is not None:
        row.result, row.last_error = result, ''
        _move(session, row, S.done, 'result', str(result.get('message') or 'Done.'))
        return
    late = session.get(Instruction, instruction_id)
    if late is not None and late.state == S.canceled and result.get('run_id'):
        with contextlib.suppress(KromaError):
            run_queue.cancel_run(session, late.project_id, result['run_id'])
            _event(session, late, 'run_canceled', f'Run {result["run_id"][:8]} canceled: the instruction was canceled.')


def fail(session: Session, instruction_id: str, worker: str, error: KromaError) -> None:
    """Retryable failures go back to the queue with a backoff while attempts remain; the rest fail with the reason."""
    row = _still_mine(session, instruction_id, worker)
    if row is None:
        return
    row.last_error = error.user_message
    if getattr(error, 'retryable', False) and row.attempts < row.max_attempts:
        when = utcnow() + timedelta(seconds=RETRY_BACKOFF_S * row.attempts)
        row.payload = {**row.payload, 'not_before': when.isoformat()}
        _move(session, row, S.queued, 'retry_scheduled', f'{error.user_message} Retrying after {when:%H:%M:%S} UTC.')
    else:
        _move(session, row, S.failed, 'error', error.user_message)


def recover_stale(
    session: Session,
    *,
    lock_timeout_s: float = 300,
    alive: Callable[[int], bool] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Running instructions whose worker died (its process gone on this machine) or stopped renewing its lock (the
    lease ran out; any machine): retried or failed."""
    now, recovered = now or utcnow(), []
    for row in session.exec(select(Instruction).where(Instruction.state == S.running)).all():
        locked = row.locked_at.replace(tzinfo=row.locked_at.tzinfo or UTC) if row.locked_at else None
        age = (now - locked).total_seconds() if locked else float('inf')
        pid = holders.local_pid(row.locked_by)
        if pid is not None and (alive or holders.pid_alive)(pid):
            continue  # a live worker of this machine keeps its lock, however long it takes
        if pid is not None:
            why = f'Worker {row.locked_by} is gone (process {pid} is not running on this machine).'
        elif age > lock_timeout_s:
            why = f'Worker {row.locked_by or "?"} held the lock for {age:.0f} s, over the {lock_timeout_s:.0f} s limit.'
        else:
            continue  # another machine's lock is trusted until the timeout
        row.locked_by, row.locked_at, row.last_error = None, None, why
        if row.attempts < row.max_attempts:
            _move(session, row, S.queued, 'retry_scheduled', f'{why} Queued again (attempt {row.attempts} used).')
        else:
            _move(session, row, S.failed, 'error', f'{why} No attempts left ({row.attempts} of {row.max_attempts}).')
        recovered.append(row.id)
    return recovered


def renew_lock(session: Session, instruction_id: str, worker: str) -> bool:
    """The worker's heartbeat while a handler runs: its lock is a lease, so a live worker on any machine keeps it."""
    held = (col(Instruction.id) == instruction_id, col(Instruction.state) == S.running, Instruction.locked_by == worker)
    return session.execute(update(Instruction).where(*held).values(locked_at=utcnow())).rowcount == 1


@contextlib.contextmanager
def _heartbeat(session_factory: SessionFactory, instruction_id: str, worker: str, every_s: float) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with session_factory() as s:
                    if not renew_lock(s, instruction_id, worker):
                        return  # canceled or taken over: nothing left to renew
            except Exception:
                log.exception('renewing the lock of instruction %s failed; trying again', instruction_id)

    thread = threading.Thread(target=beat, name=f'instruction-lease-{instruction_id[:8]}', daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def work_once(
    session_factory: SessionFactory,
    handlers: Mapping[str, Handler],
    *,
    worker: str | None = None,
    lock_timeout_s: float = 300,
    alive: Callable[[int], bool] | None = None,
) -> str | None:
    """One scheduler tick: recover stale locks, then claim and execute one instruction; returns its id or None.

    While the handler runs its lock is renewed every third of `lock_timeout_s`, so the timeout is a lease: another
    machine's worker takes the instruction over only when its holder stopped renewing it."""
    worker = worker or holders.worker_id()
    with session_factory() as s:
        recover_stale(s, lock_timeout_s=lock_timeout_s, alive=alive)
    with session_factory() as s:
        claimed = claim_next(s, worker)
        project = projects.get_project_by_id(s, claimed.project_id) if claimed else None
    if claimed is None or project is None:
        return None
    handler = handlers.get(claimed.type)
    payload = {**claimed.payload, 'instruction_id': claimed.id, 'objective': claimed.objective}
    try:
        if handler is None:
            raise KromaError(f'No handler for {claimed.type!r} instructions in this build.', code='not_available')
        with _heartbeat(session_factory, claimed.id, worker, lock_timeout_s / 3):
            result = handler(session_factory, project, payload)
    except KromaError as e:
        with session_factory() as s:
            fail(s, claimed.id, worker, e)
    except Exception as e:  # a bug in a handler must end the instruction, never leave it running
        log.exception('instruction %s crashed', claimed.id)
        with session_factory() as s:
            fail(s, claimed.id, worker, KromaError(f'Unexpected error: {type(e).__name__}: {e}', code='crashed'))
    else:
        with session_factory() as s:
            complete(s, claimed.id, worker, result)
    return claimed.id
