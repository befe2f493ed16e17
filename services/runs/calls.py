"""One provider call of a run: the candidates it makes, its cost split between them, and the story the log keeps."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from models.base import new_id, utcnow
from models.runs import Candidate, CostEvent
from services.errors import KromaError
from services.providers.retry import call_attempts
from services.runs import commits as run_commits
from services.runs.commits import JobContext

log = logging.getLogger(__name__)

_SECRET_LIKE = re.compile(r'(sk-|Bearer\s+)[A-Za-z0-9_\-.]{4,}')


def failure_reason(exc: BaseException, where: str) -> str:
    """The sentence a failed job or candidate shows: a typed error's own message, else what broke, never a secret.

    Unexpected exceptions are logged with their traceback here, so each one leaves a log line."""
    if isinstance(exc, KromaError):
        return exc.user_message
    log.error('Unexpected error %s', where, exc_info=exc)
    text = _SECRET_LIKE.sub(r'\1***', str(exc))[:300]
    return f'Unexpected error {where}: {type(exc).__name__}' + (f': {text}' if text else '') + '. See the log.'


@dataclass
class ProviderCall:
    """A call for several candidates at once (n = len(candidates)); each gets an equal share of its cost."""

    ctx: JobContext
    candidates: list[Candidate]
    cost: float
    trace: list[dict] = field(default_factory=list)
    id: str = field(default_factory=new_id)
    event_ids: list[str] = field(default_factory=list)
    admitted: bool = False  # the budget allowed it and its `sent` cost events are being written
    sent: asyncio.Task | None = None  # the write of the `sent` events
    started: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=lambda: utcnow().isoformat())

    def __post_init__(self) -> None:
        if self.cost > 0:
            self.event_ids = [new_id() for _ in self.candidates]

    async def went_out(self) -> None:
        """Wait for the `sent` events to be written, so an outcome never lands before them."""
        if self.sent is not None:
            with contextlib.suppress(Exception):
                await self.sent

    @property
    def share(self) -> float:
        return self.cost / max(1, len(self.candidates))

    def event_id(self, index: int) -> str | None:
        return self.event_ids[index] if self.event_ids else None

    def sent_events(self) -> list[CostEvent]:
        """Written before the call goes out, so every paid call is accounted for even if the process dies."""
        return [self.event(i, 'sent') for i in range(len(self.candidates))] if self.cost > 0 else []

    def outcome_events(self, exc: BaseException) -> list[CostEvent]:
        """After a failure: maybe billed if the provider may have processed it, else not billed (nothing is owed)."""
        if not self.admitted:
            return []
        billed = not isinstance(exc, KromaError) or bool(exc.details.get('maybe_billed'))
        code = exc.code if isinstance(exc, KromaError) else type(exc).__name__
        state = 'maybe billed' if billed else 'not billed'
        return [self.event(i, state, paid=billed, error=code) for i in range(len(self.candidates))]

    def event(self, index: int, state: str, *, paid: bool = True, **meta: Any) -> CostEvent:
        amount = self.share if paid else 0.0
        meta |= {'call': self.id, 'n': len(self.candidates)}
        return run_commits.cost_event(
            self.ctx, self.candidates[index], amount, state, event_id=self.event_id(index), **meta
        )

    def story(self, outcome: str, error: str = '') -> dict[str, Any]:
        """What the run log tells of this call: how many attempts, each with its status and the wait after it."""
        sent = bool(self.trace) or outcome == 'ok'
        story: dict[str, Any] = {
            'id': self.id,
            'n': len(self.candidates),
            'started_at': self.started_at,
            'seconds': round(time.monotonic() - self.started, 3),
            'attempts': call_attempts(self.trace) if self.trace else int(sent),
            'tries': self.trace,
            'outcome': outcome,
        }
        if error:
            story['error'] = error
        return story
