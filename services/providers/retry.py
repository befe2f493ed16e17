"""Bounded retries for provider calls: rate limits and outages are waited out, everything else fails at once."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from services.errors import ProviderError

log = logging.getLogger(__name__)

T = TypeVar('T')
MAX_SINGLE_DELAY_S = 60.0


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    max_total_s: float,
    base_delay: float = 0.5,
    trace: list[dict] | None = None,
    step: str = '',
    quiet: bool = False,
) -> T:
    """Run `call`, retrying retryable provider errors with jittered exponential backoff or the server's Retry-After.

    At most `max_retries` extra attempts, and never a wait that would end past `max_total_s` from the start. Each
    attempt is noted in `trace` (status and the wait that followed; `quiet` steps such as polls only note failures),
    and the last error is raised saying how many attempts were made, so the run log and the message tell the story.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        t0 = time.monotonic()
        try:
            result = await call()
        except ProviderError as err:
            note: dict[str, Any] = {'step': step, 'attempt': attempt, 'status': err.details.get('status') or err.code}
            note['seconds'] = round(time.monotonic() - t0, 3)
            err.details['attempts'] = attempt
            retry_after = getattr(err, 'retry_after', None)
            backoff = base_delay * (2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
            delay = min(MAX_SINGLE_DELAY_S, max(backoff, retry_after) if retry_after is not None else backoff)
            retryable = getattr(err, 'retryable', False) and attempt <= max_retries
            if retryable and time.monotonic() - started + delay > max_total_s:
                log.warning(
                    'Giving up after %d attempt(s): waiting %.1f s would pass the %.0f s budget',
                    attempt,
                    delay,
                    max_total_s,
                )
                retryable = False
            if not retryable:
                _record(trace, note)
                _counted(err, attempt, time.monotonic() - started)
                raise
            note['wait_s'] = round(delay, 3)
            _record(trace, note)
            log.warning(
                'Provider call failed (%s), attempt %d of %d; retrying in %.2f s',
                err.code,
                attempt,
                max_retries + 1,
                delay,
            )
            await asyncio.sleep(delay)
        else:
            if not quiet or attempt > 1:
                _record(
                    trace,
                    {'step': step, 'attempt': attempt, 'status': 'ok', 'seconds': round(time.monotonic() - t0, 3)},
                )
            return result


def _record(trace: list[dict] | None, note: dict[str, Any]) -> None:
    if trace is not None:
        trace.append(note)


def _counted(err: ProviderError, attempts: int, elapsed_s: float) -> None:
    """Say in the message how many attempts were made (once, even when retries nest)."""
    if not err.details.get('attempts_told'):
        err.details['attempts_told'] = True
        err.user_message += (
            ' (1 attempt)' if attempts == 1 else f' (gave up after {attempts} attempts in {elapsed_s:.0f} s)'
        )
        err.args = (err.user_message,)


def call_attempts(trace: list[dict]) -> int:
    """Attempts of a call from its trace: one, plus one for every attempt that was retried."""
    return 1 + sum(1 for note in trace if 'wait_s' in note)
