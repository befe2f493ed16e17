"""Bounded retries for provider calls: rate limits and outages are waited out, everything else fails at once."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.errors import ProviderError

log = logging.getLogger(__name__)

T = TypeVar('T')
MAX_SINGLE_DELAY_S = 60.0


async def with_retries(
    call: Callable[[], Awaitable[T]], *, max_retries: int, max_total_s: float, base_delay: float = 0.5
) -> T:
    """Run `call`, retrying retryable provider errors with jittered exponential backoff or the server's Retry-After.

    At most `max_retries` extra attempts, and never a wait that would end past `max_total_s` from the start;
    the last error is raised with `details['attempts']` set so the run log can tell the story.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except ProviderError as err:
            err.details['attempts'] = attempt
            if not getattr(err, 'retryable', False) or attempt > max_retries:
                raise
            retry_after = getattr(err, 'retry_after', None)
            backoff = base_delay * (2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
            delay = min(MAX_SINGLE_DELAY_S, max(backoff, retry_after) if retry_after is not None else backoff)
            if time.monotonic() - started + delay > max_total_s:
                log.warning(
                    'Giving up after %d attempt(s): waiting %.1f s would pass the %.0f s budget',
                    attempt,
                    delay,
                    max_total_s,
                )
                raise
            log.warning(
                'Provider call failed (%s), attempt %d of %d; retrying in %.2f s',
                err.code,
                attempt,
                max_retries + 1,
                delay,
            )
            await asyncio.sleep(delay)
