"""What every request must pass before the studio reads it: a known Host, a same-origin browser, a bounded body.

A pure ASGI middleware in front of pages, the API and NiceGUI's websockets:
- Host: only the configured names (loopback names, the bound host, KROMA_ALLOWED_HOSTS) or an IP literal, so a page
  that rebinds its own DNS name to 127.0.0.1 cannot talk to the studio.
- Origin/Referer: a state-changing request (and a websocket) from a browser must come from the studio's own origin.
- Body: JSON bodies, each part of a multipart upload and the whole request have limits enforced while the bytes
  arrive, and a body that stalls is cut off; the answer is a clear 413/408, never a parse of 100 MB.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ('localhost', '127.0.0.1', '::1')
SAFE_METHODS = {'GET', 'HEAD', 'OPTIONS', 'TRACE'}
MB = 1024 * 1024


@dataclass(frozen=True)
class GuardLimits:
    """Limits in bytes and seconds; the defaults suit one artist's studio."""

    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES
    max_json_bytes: int = 2 * MB
    max_part_bytes: int = 50 * MB + 64 * 1024  # one uploaded file (services/files.MAX_BYTES) plus its part headers
    max_request_bytes: int = 512 * MB
    body_stall_s: float = 30.0
    extra_hosts: tuple[str, ...] = field(default=())


class BodyRefused(HTTPException):
    """Raised inside the wrapped receive: an HTTP error, so the framework's body parsing passes it on unchanged."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.status, self.message, self.code = status, message, code


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    """The Host without its port is one of the allowed names, or an IP literal (a rebinding page sends a name)."""
    host = _hostname(host_header)
    if not host:
        return False
    if host in {h.lower() for h in allowed}:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _hostname(netloc: str) -> str:
    netloc = netloc.strip().lower()
    if netloc.startswith('['):  # [::1]:8080
        return netloc[1 : netloc.find(']')] if ']' in netloc else ''
    return netloc.rsplit(':', 1)[0] if netloc.count(':') == 1 else netloc


def same_origin(origin: str, host_header: str) -> bool:
    """A browser's Origin (or Referer) names the scheme://host:port the page came from; it must be this studio."""
    parts = urlsplit(origin)
    return bool(parts.scheme in ('http', 'https') and parts.netloc) and parts.netloc.lower() == host_header.lower()


class MultipartMeter:
    """Counts the bytes of each multipart part as they stream by, without parsing: parts end at the boundary."""

    def __init__(self, boundary: bytes, limit: int) -> None:
        self.delimiter = b'\r\n--' + boundary
        self.limit = limit
        self.tail = b'\r\n'  # the body's first delimiter has no line break before it
        self.current = 0

    def feed(self, chunk: bytes) -> None:
        data = self.tail + chunk
        start = 0
        while (i := data.find(self.delimiter, start)) >= 0:
            self._add(i - start)
            self.current = 0
            start = i + len(self.delimiter)
        keep = len(self.delimiter) - 1  # a delimiter split across chunks is found next time
        rest = data[start:]
        counted, self.tail = (rest[:-keep], rest[-keep:]) if len(rest) > keep else (b'', rest)
        self._add(len(counted))

    def _add(self, n: int) -> None:
        self.current += n
        if self.current > self.limit:
            raise BodyRefused(
                413,
                f'A file in this upload is over the limit of {self.limit / MB:.0f} MB; nothing was stored.',
                'file_too_large',
            )


def _boundary(content_type: str) -> bytes | None:
    for part in content_type.split(';')[1:]:
        key, _, value = part.strip().partition('=')
        if key.lower() == 'boundary' and value:
            return value.strip('"').encode('latin-1')
    return None


class RequestGuard:
    """ASGI middleware; `limits` is read per request so tests can build it with their own numbers."""

    def __init__(self, app: ASGIApp, limits: GuardLimits | None = None) -> None:
        self.app = app
        self.limits = limits or GuardLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] not in ('http', 'websocket'):
            await self.app(scope, receive, send)
            return
        headers = {k.decode('latin-1').lower(): v.decode('latin-1') for k, v in scope.get('headers', [])}
        host = headers.get('host', '')
        allowed = self.limits.allowed_hosts + self.limits.extra_hosts
        if not host_allowed(host, allowed):
            await self._refuse(scope, receive, send, 400, f'Host "{host[:100]}" is not one this studio answers '
                               '(set KROMA_ALLOWED_HOSTS to add a name).', 'host_not_allowed')  # fmt: skip
            return
        method = scope.get('method', 'GET')
        if scope['type'] == 'websocket' or method not in SAFE_METHODS:
            source = headers.get('origin') or headers.get('referer')
            if source and source != 'null' and not same_origin(_origin_of(source), host):
                await self._refuse(scope, receive, send, 403, 'Cross-origin requests that change data are refused.',
                                   'cross_origin')  # fmt: skip
                return
            if source == 'null':
                await self._refuse(scope, receive, send, 403, 'Requests from an opaque origin are refused.',
                                   'cross_origin')  # fmt: skip
                return
        if scope['type'] == 'websocket' or method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            limited = self._limited_receive(receive, headers)
        except BodyRefused as e:
            await self._refuse(scope, receive, send, e.status, e.message, e.code)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message['type'] == 'http.response.start':
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except BodyRefused as e:
            if started:
                raise
            await self._refuse(scope, receive, send, e.status, e.message, e.code)

    def _limited_receive(self, receive: Receive, headers: dict[str, str]) -> Receive:
        content_type = headers.get('content-type', '').lower()
        is_json = 'json' in content_type.split(';')[0]
        limit = self.limits.max_json_bytes if is_json else self.limits.max_request_bytes
        what = 'JSON body' if is_json else 'request body'
        declared = headers.get('content-length', '')
        if declared.isdigit() and int(declared) > limit:
            raise BodyRefused(413, f'The {what} is {int(declared) / MB:.1f} MB, over the limit of {limit / MB:g} MB.',
                              'payload_too_large')  # fmt: skip
        boundary = _boundary(headers.get('content-type', '')) if content_type.startswith('multipart/') else None
        meter = MultipartMeter(boundary, self.limits.max_part_bytes) if boundary else None
        total = 0
        stall = self.limits.body_stall_s

        async def receive_limited() -> Message:
            nonlocal total
            try:
                message = await asyncio.wait_for(receive(), timeout=stall)
            except TimeoutError:
                raise BodyRefused(408, f'The request body stalled for {stall:g} s; send it again.',
                                  'body_timeout') from None  # fmt: skip
            if message['type'] == 'http.request':
                chunk = message.get('body', b'')
                total += len(chunk)
                if total > limit:
                    raise BodyRefused(413, f'The {what} is over the limit of {limit / MB:g} MB.', 'payload_too_large')
                if meter is not None:
                    meter.feed(chunk)
            return message

        return receive_limited

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, message: str, code: str) -> None:
        if scope['type'] == 'websocket':
            await send({'type': 'websocket.close', 'code': 1008, 'reason': message[:120]})
            return
        body = json.dumps({'ok': False, 'error': message, 'error_kind': 'validation', 'error_code': code}).encode()
        await send({
            'type': 'http.response.start', 'status': status,
            'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode()),
                        (b'connection', b'close')],
        })  # fmt: skip
        await send({'type': 'http.response.body', 'body': body})


def _origin_of(source: str) -> str:
    parts = urlsplit(source)
    return f'{parts.scheme}://{parts.netloc}'
