"""The request guard on the real studio: Host names, same-origin changes, body limits enforced while streaming."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from app.guard import MultipartMeter
from tests.live_studio import Studio, free_port, start_studio, stop_studio


@pytest.fixture(scope='module')
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp('guard') / 'home'
    env = {'KROMA_DEMO': 'false', 'KROMA_SCHEDULER_ENABLED': 'false', 'KROMA_BODY_STALL_S': '1.5'}
    s = start_studio(home, free_port(), env)
    yield s
    stop_studio(s)


@pytest.fixture(scope='module')
def token(studio: Studio) -> str:
    """The first token, minted from loopback with the studio's own Host, then a project to work in."""
    r = httpx.post(studio.url + '/auth/token', json={'label': 'guard'})
    assert r.status_code == 201, r.text
    value = r.json()['auth_token']['token']
    created = httpx.post(studio.url + '/api/projects', json={'slug': 'moon', 'name': 'Moon'}, headers=auth(value))
    assert created.status_code == 201, created.text
    return value


def auth(token: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {token}'}


def png(size: tuple[int, int] = (32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', size, (90, 20, 200)).save(buf, 'PNG')
    return buf.getvalue()


def raw(studio: Studio, request: bytes, *, then: bytes = b'', wait_s: float = 0) -> tuple[int, dict]:
    """Speak HTTP/1.1 on a socket, so a test can send a lying Host, a body in pieces, or stop sending."""
    port = int(studio.url.rsplit(':', 1)[1])
    with socket.create_connection(('127.0.0.1', port), timeout=20) as sock:
        sock.sendall(request)
        if then:
            time.sleep(wait_s)
            with contextlib.suppress(OSError):  # the studio answered and closed early: the point of the test
                sock.sendall(then)
        data = b''
        while b'\r\n\r\n' not in data or len(data) < data.find(b'\r\n\r\n') + 4 + _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), json.loads(body or b'{}')


def _length(data: bytes) -> int:
    for line in data.split(b'\r\n\r\n')[0].split(b'\r\n'):
        if line.lower().startswith(b'content-length:'):
            return int(line.split(b':')[1])
    return 0


def test_a_rebinding_host_cannot_mint_the_first_token(tmp_path: Path) -> None:
    s = start_studio(tmp_path / 'home', free_port(), {'KROMA_DEMO': 'false', 'KROMA_SCHEDULER_ENABLED': 'false'})
    try:
        body = b'{"label": "evil"}'
        request = (
            b'POST /auth/token HTTP/1.1\r\nHost: attacker.example\r\nContent-Type: application/json\r\n'
            b'Content-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body
        )
        status, answer = raw(s, request)
        assert status == 400 and answer['error_code'] == 'host_not_allowed'
        assert httpx.get(s.url + '/', headers={'Host': 'attacker.example:8080'}).status_code == 400
        assert httpx.post(s.url + '/auth/token', json={'label': 'mine'}).status_code == 201  # the real host still can
    finally:
        stop_studio(s)


def test_cross_origin_changes_are_refused_same_origin_and_scripts_pass(studio: Studio, token: str) -> None:
    evil = httpx.post(
        studio.url + '/api/projects',
        json={'slug': 'evil', 'name': 'Evil'},
        headers={**auth(token), 'Origin': 'http://attacker.example'},
    )
    assert evil.status_code == 403 and evil.json()['error_code'] == 'cross_origin'
    other_port = httpx.post(
        studio.url + '/api/projects',
        json={'slug': 'evil', 'name': 'Evil'},
        headers={**auth(token), 'Referer': 'http://127.0.0.1:1/page'},
    )
    assert other_port.status_code == 403
    same = httpx.post(
        studio.url + '/api/projects',
        json={'slug': 'sun', 'name': 'Sun'},
        headers={**auth(token), 'Origin': studio.url},
    )
    assert same.status_code == 201, same.text
    assert httpx.get(studio.url + '/api/projects', headers={**auth(token), 'Origin': 'http://x.example'}).is_success


def test_json_bodies_over_the_limit_are_refused_before_parsing(studio: Studio, token: str) -> None:
    big = b'{"name": "' + b'x' * (3 * 1024 * 1024) + b'"}'
    r = httpx.post(
        studio.url + '/api/projects', content=big, headers={**auth(token), 'Content-Type': 'application/json'}
    )
    assert r.status_code == 413 and r.json()['error_code'] == 'payload_too_large'

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"name": "'
        for _ in range(40):
            yield b'y' * 100_000
        yield b'"}'

    r = httpx.post(
        studio.url + '/api/projects', content=chunks(), headers={**auth(token), 'Content-Type': 'application/json'}
    )
    assert r.status_code == 413


def test_a_file_over_the_limit_is_refused_while_it_streams(studio: Studio, token: str) -> None:
    boundary = 'kromaboundary'
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="huge.png"\r\n'
        'Content-Type: image/png\r\n\r\n'
    ).encode()

    sent = {'bytes': 0}

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(60):
            sent['bytes'] += 1024 * 1024
            yield b'\0' * (1024 * 1024)
        yield f'\r\n--{boundary}--\r\n'.encode()

    r = httpx.post(
        studio.url + '/api/projects/moon/assets',
        content=body(),
        headers={**auth(token), 'Content-Type': f'multipart/form-data; boundary={boundary}'},
        timeout=60,
    )
    assert r.status_code == 413 and r.json()['error_code'] == 'file_too_large'
    listed = httpx.get(studio.url + '/api/projects/moon/assets', headers=auth(token)).json()
    assert listed['total'] == 0


def test_more_than_a_hundred_files_are_refused_with_a_message(studio: Studio, token: str) -> None:
    files = [('files', (f'p{i}.png', png((8 + i % 5, 8)), 'image/png')) for i in range(101)]
    r = httpx.post(studio.url + '/api/projects/moon/assets', files=files, headers=auth(token), timeout=60)
    assert r.status_code == 422 and 'At most 100 files' in r.json()['error']
    ok = httpx.post(studio.url + '/api/projects/moon/assets', files=files[:100], headers=auth(token), timeout=60)
    assert ok.status_code == 201 and ok.json()['count'] == 100


def test_a_stalled_body_is_cut_off(studio: Studio, token: str) -> None:
    request = (
        b'POST /api/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'
        b'Authorization: Bearer ' + token.encode() + b'\r\nContent-Length: 1000\r\n\r\n{"slug": '
    )
    started = time.monotonic()
    status, answer = raw(studio, request)
    assert status == 408 and answer['error_code'] == 'body_timeout'
    assert time.monotonic() - started < 10


def test_the_part_meter_finds_boundaries_split_across_chunks() -> None:
    meter = MultipartMeter(b'b0undary', limit=15)
    stream = b'--b0undary\r\nh\r\n\r\n12345\r\n--b0undary\r\nh\r\n\r\n1234567\r\n--b0undary--'
    for i in range(len(stream)):  # every byte its own chunk: no boundary is ever missed
        meter.feed(stream[i : i + 1])
    meter = MultipartMeter(b'b0undary', limit=15)
    with pytest.raises(Exception, match='over the limit'):
        meter.feed(b'--b0undary\r\n' + b'z' * 30)


def test_a_cross_origin_websocket_is_refused(studio: Studio) -> None:
    """A page elsewhere must not drive the studio's UI over NiceGUI's socket."""

    def handshake(origin: str) -> bytes:
        port = int(studio.url.rsplit(':', 1)[1])
        request = (
            f'GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
            'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'
            f'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: {origin}\r\n\r\n'
        ).encode()
        with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
            sock.sendall(request)
            return sock.recv(4096)

    assert handshake('http://attacker.example').split()[1] == b'403'
    assert handshake(studio.url).split()[1] == b'101'
