"""The shared base of the loopback provider stand-ins: a threaded HTTP server on 127.0.0.1 that records every
request, replies from scripts, parses multipart bodies as a real server would and draws real PNGs."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw, ImageOps
from python_multipart.multipart import create_form_parser

log = logging.getLogger(__name__)


@dataclass
class RecordedRequest:
    """One request as the fake saw it; the Authorization value is never kept, only whether it was right."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    auth_ok: bool
    fields: dict[str, str] = field(default_factory=dict)
    images: list[dict] = field(default_factory=list)  # {field, filename, content_type, sha256, size}
    json: Any = None
    status: int = 0
    started: float = 0.0
    ended: float = 0.0


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = 'application/json'
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(obj).encode(), 'application/json', headers or {})


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[dict]]:
    """Fields and ordered file parts of a multipart/form-data body (python-multipart, all in memory)."""
    fields: dict[str, str] = {}
    files: list[dict] = []

    def on_field(f: Any) -> None:
        fields[f.field_name.decode()] = (f.value or b'').decode()

    def on_file(f: Any) -> None:
        f.file_object.seek(0)
        data = f.file_object.read()
        ctype = f.content_type.decode() if isinstance(f.content_type, bytes) else (f.content_type or '')
        files.append(
            {
                'field': f.field_name.decode(),
                'filename': (f.file_name or b'').decode(),
                'content_type': ctype,
                'data': data,
                'sha256': hashlib.sha256(data).hexdigest(),
                'size': len(data),
            }
        )

    parser = create_form_parser(
        {'Content-Type': content_type.encode()}, on_field, on_file, config={'MAX_MEMORY_FILE_SIZE': 1 << 28}
    )
    parser.write(body)
    parser.finalize()
    return fields, files


def make_png(size: tuple[int, int], key: str, source: bytes | None = None) -> bytes:
    """A deterministic PNG of the requested size: the source image fitted and tinted, or a drawn gradient scene."""
    digest = hashlib.sha256(key.encode()).digest()
    tint = tuple(digest[:3])
    w, h = size
    if source:
        with Image.open(io.BytesIO(source)) as im:
            img = ImageOps.fit(im.convert('RGB'), (w, h), Image.Resampling.BILINEAR)
        img = Image.blend(img, Image.new('RGB', (w, h), tint), 0.2)
    else:
        img = Image.linear_gradient('L').resize((w, h)).convert('RGB')
        img = Image.blend(img, Image.new('RGB', (w, h), tint), 0.5)
    draw = ImageDraw.Draw(img)
    for i in range(3):
        x, y = digest[4 + i] / 255 * w * 0.7, digest[8 + i] / 255 * h * 0.7
        draw.rectangle((x, y, x + w * 0.2, y + h * 0.15), outline=tuple(digest[12 + i * 3 : 15 + i * 3]), width=6)
    buf = io.BytesIO()
    img.save(buf, 'PNG', compress_level=1)
    return buf.getvalue()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are expected here; nothing to print."""


class LoopbackFake:
    """A ThreadingHTTPServer on 127.0.0.1:<free port> in a background thread; subclasses implement `route`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._log: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stalls: deque[tuple[str, str, float]] = deque()  # (path prefix, 'drip' | 'hang', seconds per byte)

    @property
    def base_url(self) -> str:
        assert self._server is not None, 'start the fake first'
        return f'http://127.0.0.1:{self._server.server_address[1]}'

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the request log, oldest first."""
        with self.lock:
            return list(self._log)

    def reset_log(self) -> None:
        """Forget the requests seen so far and the in-flight peak (a benchmark measures run by run)."""
        with self.lock:
            self._log.clear()
            self.max_in_flight = self.in_flight

    def start(self) -> LoopbackFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug('fake %s: ' + fmt, type(fake).__name__, *args)

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = _Server(('127.0.0.1', 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={'poll_interval': 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        """Wait like a slow provider, but let stop() cut it short."""
        if seconds > 0:
            self.stopping.wait(seconds)

    def stall_next(self, mode: str, *, path_prefix: str = '/', times: int = 1, byte_every_s: float = 1.0) -> None:
        """Script the next matching request(s) to stall: 'drip' sends the headers, then the body one byte every
        `byte_every_s`; 'hang' reads the request and never answers (until the fake stops)."""
        assert mode in ('drip', 'hang')
        with self.lock:
            self.stalls.extend([(path_prefix, mode, byte_every_s)] * times)

    def route(self, rec: RecordedRequest, body: bytes, content_type: str) -> Reply:
        raise NotImplementedError

    def check_auth(self, header: str) -> bool:
        return True

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get('Content-Length') or 0))
        url = urlsplit(h.path)
        headers = {k: ('<redacted>' if k.lower() == 'authorization' else v) for k, v in h.headers.items()}
        auth_ok = self.check_auth(h.headers.get('Authorization', ''))
        rec = RecordedRequest(h.command, url.path, parse_qs(url.query), headers, auth_ok, started=time.monotonic())
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            stall = next((st for st in self.stalls if url.path.startswith(st[0])), None)
            if stall:
                self.stalls.remove(stall)
        if stall and stall[1] == 'hang':
            with self.lock:
                self._log.append(rec)
            self.stopping.wait(600)  # a server that took the request and went silent
            with self.lock:
                self.in_flight -= 1
            return
        try:
            reply = self.route(rec, body, h.headers.get('Content-Type', ''))
        except Exception as e:  # a fake must answer 500 like a real server, not hang
            log.exception('fake route failed')
            reply = json_reply(500, {'error': {'message': f'fake crashed: {e}', 'type': 'server_error'}})
        finally:
            with self.lock:
                self.in_flight -= 1
        rec.status, rec.ended = reply.status, time.monotonic()
        with self.lock:
            self._log.append(rec)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            h.send_response(reply.status)
            h.send_header('Content-Type', reply.content_type)
            h.send_header('Content-Length', str(len(reply.body)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            if stall:  # 'drip': a byte at a time, so no single read ever waits long
                for i in range(len(reply.body)):
                    h.wfile.write(reply.body[i : i + 1])
                    h.wfile.flush()
                    if self.stopping.wait(stall[2]):
                        break
            else:
                h.wfile.write(reply.body)
