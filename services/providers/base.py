"""The provider contract: request/result types every adapter speaks, plus the plumbing they share."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, runtime_checkable

import httpx

from services.errors import (
    Invalid,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

ROLES = ('scene', 'style', 'character')
STAGES = ('style', 'time', 'weather', 'character')
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True)
class InputImage:
    """One image the provider is shown; the role tells it whether this is the scene, a style anchor or a character."""

    role: str
    data: bytes = field(repr=False)
    name: str = ''
    sha256: str = ''


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one generation needs; equal requests to the local provider give equal bytes."""

    prompt: str
    inputs: tuple[InputImage, ...] = ()
    size: tuple[int, int] = (1024, 1536)
    n: int = 1
    seed: int = 0
    stage: str = 'style'
    params: dict = field(default_factory=dict)
    # Awaited once a concurrency slot is held, before anything is sent: it may refuse the call (Canceled) or record
    # it (the run engine writes the call's cost event first, so every paid call has one).
    admit: Callable[[], Awaitable[None]] | None = field(default=None, repr=False, compare=False)
    # Where the adapter notes each HTTP attempt (step, status, wait), so the run log can tell the call's story.
    trace: list[dict] | None = field(default=None, repr=False, compare=False)

    def by_role(self, role: str) -> list[InputImage]:
        """Inputs of one role, in the order given."""
        return [i for i in self.inputs if i.role == role]


@dataclass(frozen=True)
class GeneratedImage:
    """A finished image and what the provider said about it, kept for lineage."""

    data: bytes = field(repr=False)
    seed: int = 0
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HealthResult:
    """What the setup page shows: a verdict, a plain sentence, and a code the UI can branch on."""

    ok: bool
    message: str
    code: str = 'ok'
    latency_ms: float = 0.0


@dataclass(frozen=True)
class ProviderConfig:
    """An account as the adapters need it; the key is decrypted by the caller and never shown in a repr."""

    kind: str
    name: str = ''
    base_url: str = ''
    model: str = ''
    api_key: str | None = field(default=None, repr=False)
    options: dict = field(default_factory=dict)

    def option_int(self, key: str, default: int) -> int:
        """An integer option with a default, so a missing or blank value never breaks a run."""
        value = self.options.get(key)
        return default if value in (None, '') else int(value)

    def option_float(self, key: str, default: float) -> float:
        """A float option with a default."""
        value = self.options.get(key)
        return default if value in (None, '') else float(value)


@runtime_checkable
class Provider(Protocol):
    """What the run engine, the CLI and the setup page call; nothing else about a provider leaks out."""

    kind: str
    config: ProviderConfig
    is_offline: bool
    max_images_per_call: int  # n > 1 in one call where the model allows it: inputs are then paid once

    async def generate(self, request: GenerationRequest) -> list[GeneratedImage]: ...

    def estimate_cost(self, request: GenerationRequest) -> float: ...

    async def health(self) -> HealthResult: ...


class SharedLimit(Protocol):
    """An account's limit shared with other processes (the run engine's database slots): a slot is taken per call."""

    async def acquire(self) -> str: ...

    async def release(self, token: str) -> None: ...


@dataclass
class _LoopGate:
    """The gate as one event loop sees it: its semaphore, the calls waiting for it, and shared slots handed over."""

    sem: asyncio.Semaphore
    waiting: int = 0
    spare: list[tuple[SharedLimit, str]] = field(default_factory=list)


class ConcurrencyGate:
    """An account's concurrency limit as one semaphore per event loop, so a provider survives being used from two loops.

    `local_cap` lowers what this process sends at once (a worker's --concurrency); `shared`, when set, holds the
    account's limit across every process that shares the database. A call that ends while another call here waits
    for the gate hands its shared slot straight over (no round trip to free it and take it again); only a slot that
    nobody here waits for goes back."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, int(limit))
        self.local_cap: int | None = None
        self.shared: SharedLimit | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopGate] = weakref.WeakKeyDictionary()
        self.handed = 0  # slots handed from a call that ended to the next (for benchmarks and tests)

    @contextlib.asynccontextmanager
    async def slot(self, admit: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[None]:
        """Hold one of the account's concurrent call slots; `admit` may still refuse the call once it has one."""
        loop = asyncio.get_running_loop()
        here = self._loops.get(loop)
        if here is None:
            here = self._loops[loop] = _LoopGate(asyncio.Semaphore(min(self.limit, self.local_cap or self.limit)))
        here.waiting += 1
        try:
            await here.sem.acquire()
        except asyncio.CancelledError:
            here.waiting -= 1
            await self._return_spare(here)
            raise
        here.waiting -= 1
        try:
            shared, token = await self._take(here)
            try:
                if admit is not None:
                    await admit()
                yield
            finally:
                if token is not None:
                    if here.waiting:
                        here.spare.append((shared, token))
                    else:
                        await shared.release(token)
        finally:
            here.sem.release()

    async def _take(self, here: _LoopGate) -> tuple[SharedLimit | None, str | None]:
        shared = self.shared
        if shared is None:
            return None, None
        while here.spare:
            owner, token = here.spare.pop()
            if owner is shared:
                self.handed += 1
                return shared, token
            await owner.release(token)  # the gate was pointed at another shared limit meanwhile
        return shared, await shared.acquire()

    async def _return_spare(self, here: _LoopGate) -> None:
        """A waiting call gave up: slots kept for waiting calls go back when nobody here waits any more."""
        while here.spare and not here.waiting:
            owner, token = here.spare.pop()
            await owner.release(token)


def elapsed_ms(started: float) -> float:
    """Milliseconds since a perf_counter() start, rounded for display."""
    return round((time.perf_counter() - started) * 1000, 1)


def host_of(base_url: str) -> str:
    """The host:port shown in messages; never the path, which some proxies use for tokens."""
    url = httpx.URL(base_url)
    return f'{url.host}:{url.port}' if url.port else str(url.host)


def images_per_call(provider: object) -> int:
    """How many candidates one call may make (1 for adapters that do not say)."""
    return max(1, int(getattr(provider, 'max_images_per_call', 1) or 1))


def check_prompt(request: GenerationRequest) -> None:
    """An empty prompt is refused before any call: the provider would refuse it (and some would bill it)."""
    if not request.prompt or not request.prompt.strip():
        raise Invalid('The prompt is empty; describe what to make.', code='prompt_required')


def http_timeout(timeout_s: float) -> httpx.Timeout:
    """httpx's own limits sit just past the call's deadline, which is what ends a call (and names the reason)."""
    return httpx.Timeout(timeout_s + 1.0, connect=min(timeout_s, 10.0))


def no_complete_answer(*, provider: str, base_url: str, timeout_s: float, paid: bool) -> ProviderTimeout:
    """The call's total deadline (connect + send + the whole answer) passed."""
    err = ProviderTimeout(f'{provider} at {host_of(base_url)} gave no complete answer within {timeout_s:g} s.')
    return _maybe_billed(err) if paid else err


def _maybe_billed(err: ProviderError) -> ProviderError:
    """A billable request that may have reached the provider is never retried automatically."""
    err.retryable = False
    err.user_message += ' The request may still have been processed and billed; check before retrying.'
    err.args = (err.user_message,)
    err.details['maybe_billed'] = True
    return err


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError) or 'SSL' in str(seen) or 'CERTIFICATE' in str(seen).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def transport_error(
    exc: httpx.TransportError, *, provider: str, base_url: str, timeout_s: float, paid: bool = False
) -> ProviderError:
    """Turn an httpx transport failure into the typed error the artist can act on.

    `paid` marks a billable request that may have reached the provider: a read timeout or a dropped connection
    then is not retried automatically, so an image that was made (and billed) is never paid for twice.
    """
    host = host_of(base_url)
    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    if isinstance(exc, httpx.ConnectTimeout):
        err: ProviderError = ProviderTimeout(f'Connecting to {provider} at {host} timed out.')
    elif isinstance(exc, httpx.TimeoutException):
        err = ProviderTimeout(f'{provider} at {host} did not answer within {timeout_s:g} s.')
    elif _is_tls(exc):
        err = ProviderUnavailable(
            f'The secure connection to {host} failed (TLS/certificate problem); check the URL scheme and certificate.',
            code='tls',
        )
        err.retryable = sent = False
    elif isinstance(exc, httpx.ConnectError):
        err = ProviderUnavailable(
            f'Cannot reach host {host}; is {provider} running and the URL right?', code='unreachable'
        )
    else:
        err = ProviderUnavailable(
            f'The connection to {provider} at {host} broke: {type(exc).__name__}.', code='unreachable'
        )
    return _maybe_billed(err) if paid and sent else err


def health_code(err: ProviderError) -> str:
    """The HealthResult code for a provider error, so every adapter reports failures the same way."""
    if isinstance(err, ProviderAuthError):
        return 'auth'
    if isinstance(err, ProviderTimeout):
        return 'timeout'
    if isinstance(err, ProviderRateLimited):
        return 'rate_limited'
    known = ('unreachable', 'tls', 'unknown_model', 'wrong_base_url', 'checkpoint_missing')
    return err.code if err.code in known else 'bad_response'


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, Retry-After seconds or HTTP date), if any."""
    if ms := headers.get('retry-after-ms'):
        with contextlib.suppress(ValueError):
            return max(0.0, float(ms) / 1000)
    value = headers.get('retry-after')
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        with contextlib.suppress(TypeError, ValueError):
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    return None


def image_mime(data: bytes) -> tuple[str, str]:
    """Content type and extension from the bytes themselves, so a mislabelled upload is still sent right."""
    if data[:8] == b'\x89PNG\r\n\x1a\n':
        return 'image/png', 'png'
    if data[:3] == b'\xff\xd8\xff':
        return 'image/jpeg', 'jpg'
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'image/webp', 'webp'
    return 'application/octet-stream', 'bin'


def safe_filename(name: str, index: int, role: str, ext: str) -> str:
    """An ASCII file name for a multipart part; providers choke on paths and odd characters."""
    stem = ''.join(c if c.isascii() and (c.isalnum() or c in '-_') else '_' for c in name.rsplit('.', 1)[0])[:40]
    return f'{index:02d}_{role}_{stem or "image"}.{ext}'
