"""A real local HTTP server speaking remove.bg and PhotoRoom, so adapter tests cross an actual socket."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from PIL import Image, ImageDraw, UnidentifiedImageError

REMOVEBG_PATH = '/v1.0/removebg'
PHOTOROOM_PATH = '/v1/segment'


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part as the server saw it."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RecordedRequest:
    """What a client really sent: path, raw header names, form fields and file digests."""

    method: str
    path: str
    service: str
    headers: dict[str, str]  # original header-name case kept, so tests can check spelling
    fields: dict[str, str]
    files: dict[str, UploadedFile]

    def header(self, name: str) -> str | None:
        """Header lookup ignoring case, as HTTP does."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class ScriptedFailure:
    """The next request answers this status (and optional Retry-After or delay) instead of a cut-out."""

    status: int
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclass
class FakeBackgroundServer:
    """Threaded fake of both services on 127.0.0.1 with a free port; use as a context manager."""

    valid_keys: set[str] = field(default_factory=lambda: {'test-key'})
    requests: list[RecordedRequest] = field(default_factory=list)
    _failures: deque[ScriptedFailure] = field(default_factory=deque, init=False, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def base_url(self) -> str:
        assert self._server is not None, 'start the server with `with FakeBackgroundServer() as server:`'
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}'

    def fail_next(self, status: int, *, retry_after: str | None = None, delay_s: float = 0.0, times: int = 1) -> None:
        """Script the next `times` requests to fail (or stall for delay_s when status is 200)."""
        with self._lock:
            self._failures.extend(ScriptedFailure(status, retry_after, delay_s) for _ in range(times))

    def __enter__(self) -> FakeBackgroundServer:
        server = ThreadingHTTPServer(('127.0.0.1', 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name='fake-removebg', daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _next_failure(self) -> ScriptedFailure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def cutout_png(data: bytes) -> bytes:
    """Answer a real RGBA PNG: the upload with an elliptical subject mask and a soft edge."""
    with Image.open(io.BytesIO(data)) as im:
        rgba = im.convert('RGBA')
    mask = Image.new('L', rgba.size, 0)
    w, h = rgba.size
    ImageDraw.Draw(mask).ellipse((w * 0.2, h * 0.1, w * 0.8, h * 0.95), fill=255)
    rgba.putalpha(mask)
    buf = io.BytesIO()
    rgba.save(buf, 'PNG')
    return buf.getvalue()


def _make_handler(fake: FakeBackgroundServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return

        def do_POST(self) -> None:
            service = {REMOVEBG_PATH: 'removebg', PHOTOROOM_PATH: 'photoroom'}.get(self.path)
            body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
            if service is None:
                self._json(404, {'detail': 'Not Found'})
                return
            fields, files, blobs = _parse_multipart(self.headers.get('Content-Type', ''), body)
            fake._record(RecordedRequest('POST', self.path, service, dict(self.headers.items()), fields, files))
            key = self.headers.get('X-Api-Key')
            if key not in fake.valid_keys:
                if service == 'removebg':
                    self._json(403, {'errors': [{'title': 'API Key invalid', 'code': 'auth_failed'}]})
                else:
                    self._json(401, {'detail': 'Invalid API key'})
                return
            failure = fake._next_failure()
            if failure is not None:
                time.sleep(failure.delay_s)
                if failure.status != 200:
                    self._failure(service, failure)
                    return
            if 'image_file' not in blobs:
                self._error(service, 400, 'No image given', 'missing_source')
                return
            try:
                png = cutout_png(blobs['image_file'])
            except (UnidentifiedImageError, OSError):
                self._error(service, 400, 'Failed to read the supplied image', 'invalid_image')
                return
            self._send(200, png, 'image/png', {'X-Credits-Charged': '1'})

        def _failure(self, service: str, failure: ScriptedFailure) -> None:
            extra = {'Retry-After': failure.retry_after} if failure.retry_after else {}
            titles = {402: 'Insufficient credits', 429: 'Rate limit exceeded', 500: 'Internal server error'}
            title = titles.get(failure.status, f'HTTP {failure.status}')
            self._error(service, failure.status, title, 'scripted', extra)

        def _error(self, service: str, status: int, title: str, code: str, extra: dict | None = None) -> None:
            body = {'errors': [{'title': title, 'code': code}]} if service == 'removebg' else {'detail': title}
            self._json(status, body, extra)

        def _json(self, status: int, body: dict, extra: dict | None = None) -> None:
            self._send(status, json.dumps(body).encode(), 'application/json', extra)

        def _send(self, status: int, data: bytes, content_type: str, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, UploadedFile], dict[str, bytes]]:
    """Split multipart/form-data with the stdlib email parser (cgi is gone in newer Pythons)."""
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    blobs: dict[str, bytes] = {}
    if not content_type.startswith('multipart/form-data'):
        return fields, files, blobs
    raw = b'Content-Type: ' + content_type.encode() + b'\r\nMIME-Version: 1.0\r\n\r\n' + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    for part in message.iter_parts():
        name = part.get_param('name', header='content-disposition')
        payload = part.get_payload(decode=True) or b''
        filename = part.get_filename()
        if filename is None:
            fields[str(name)] = payload.decode('utf-8', errors='replace')
        else:
            digest = hashlib.sha256(payload).hexdigest()
            files[str(name)] = UploadedFile(filename, part.get_content_type(), len(payload), digest)
            blobs[str(name)] = payload
    return fields, files, blobs
