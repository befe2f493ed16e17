"""`kroma provider|generate|secrets` against a temporary KROMA_HOME and the loopback OpenAI fake."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from click.testing import Result
from PIL import Image
from typer.testing import CliRunner

from app import cli_providers
from app.settings import Settings, get_settings
from app.wiring import build_deps
from services.providers import accounts as provider_accounts
from services.security.master_keys import key_ref
from tests.fakes.openai_server import FakeOpenAIServer

GOOD = 'sk-kroma-cli-GOOD-4Lm9'
BAD = 'sk-kroma-cli-BAD-Wq73'
PNG = b'\x89PNG\r\n\x1a\n'
Kroma = Callable[..., Result]


@pytest.fixture
def kroma(home: Path) -> Kroma:
    cli = typer.Typer()
    cli_providers.register(cli)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        get_settings.cache_clear()
        return runner.invoke(cli, list(args), input=stdin)

    return invoke


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(valid_keys=(GOOD,)) as server:
        yield server


def png(path: Path, colour: tuple[int, int, int]) -> Path:
    buf = io.BytesIO()
    Image.new('RGB', (96, 64), colour).save(buf, 'PNG')
    path.write_bytes(buf.getvalue())
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    return lines[0]


def test_add_list_test_and_replace_key(kroma: Kroma, fake: FakeOpenAIServer) -> None:
    added = kroma('provider', 'add', 'main', '--kind', 'openai', '--base-url', fake.base_url, '--key-stdin', stdin=GOOD)
    assert added.exit_code == 0, added.output
    assert 'key ••••4Lm9' in added.stdout
    listed = kroma('provider', 'list')
    assert listed.exit_code == 0
    assert 'main\topenai\tglobal' in listed.stdout and '••••4Lm9' in listed.stdout and 'not tested' in listed.stdout
    ok = kroma('provider', 'test', 'main')
    assert ok.exit_code == 0, ok.output
    assert 'Key accepted' in ok.stdout

    assert kroma('provider', 'set-key', 'main', '--key-stdin', stdin=BAD + '\n').exit_code == 0
    assert 'rejected the API key (HTTP 401' in one_line_error(kroma('provider', 'test', 'main'))
    assert 'key rejected' not in kroma('provider', 'list').stdout
    assert 'auth: The provider rejected' in kroma('provider', 'list').stdout
    assert kroma('provider', 'set-key', 'main', '--key-stdin', stdin=GOOD).exit_code == 0
    assert kroma('provider', 'test', 'main').exit_code == 0
    every = [added, listed, ok]
    assert not any(GOOD in r.output or BAD in r.output for r in every)


def test_generate_sends_scene_first_and_writes_pngs(kroma: Kroma, fake: FakeOpenAIServer, tmp_path: Path) -> None:
    kroma('provider', 'add', 'main', '--kind', 'openai', '--base-url', fake.base_url, '--key-stdin', stdin=GOOD)
    scene, style_a, style_b = (
        png(tmp_path / f'{n}.png', c) for n, c in [('scene', (200, 40, 40)), ('a', (0, 90, 0)), ('b', (0, 0, 90))]
    )
    out = tmp_path / 'out'
    args = ['--prompt', 'ink the harbour', '--size', '1024x1024', '--n', '2', '--out', str(out)]
    result = kroma(
        'generate', '--provider', 'main', '--image', str(scene), '--image', str(style_a), '--image', str(style_b), *args
    )
    assert result.exit_code == 0, result.output
    (req,) = fake.image_requests()
    assert req.path == '/v1/images/edits' and req.auth_ok
    assert [i['sha256'] for i in req.images] == [sha(scene), sha(style_a), sha(style_b)]
    assert {i['field'] for i in req.images} == {'image[]'} and 'scene' in req.images[0]['filename']
    assert req.fields['prompt'] == 'ink the harbour' and req.fields['n'] == '2' and req.fields['size'] == '1024x1024'
    paths = [Path(p) for p in result.stdout.split()]
    assert len(paths) == 2 and all(p.parent == out and p.read_bytes().startswith(PNG) for p in paths)
    assert not list(out.glob('.*.tmp'))


def test_generate_with_the_offline_renderer(kroma: Kroma, tmp_path: Path, home: Path) -> None:
    assert kroma('provider', 'add', 'offline', '--kind', 'local').exit_code == 0
    out = tmp_path / 'local-out'
    result = kroma(
        'generate', '--provider', 'offline', '--prompt', 'a rainy alley', '--size', '96x64', '--out', str(out)
    )
    assert result.exit_code == 0, result.output
    (path,) = [Path(p) for p in result.stdout.split()]
    with Image.open(path) as im:
        assert im.format == 'PNG' and im.size == (96, 64)
    assert not (home / 'projects').exists() or not any((home / 'projects').iterdir())


def test_rotate_moves_every_secret_to_the_new_key(
    kroma: Kroma, fake: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    key_a, key_b = os.urandom(32), os.urandom(32)
    monkeypatch.setenv('KROMA_MASTER_KEY', base64.urlsafe_b64encode(key_a).decode())
    kroma('provider', 'add', 'one', '--kind', 'openai', '--base-url', fake.base_url, '--key-stdin', stdin=GOOD)
    kroma('provider', 'add', 'two', '--kind', 'removebg', '--key-stdin', stdin='rbg-0123456789abcdef')
    assert f'{key_ref(key_a)}\t2\tcurrent' in kroma('secrets', 'status').stdout

    monkeypatch.setenv('KROMA_MASTER_KEY', base64.urlsafe_b64encode(key_b).decode())
    monkeypatch.setenv('KROMA_MASTER_KEY_PREVIOUS', base64.urlsafe_b64encode(key_a).decode())
    rotated = kroma('secrets', 'rotate')
    assert rotated.exit_code == 0, rotated.output
    assert 'rotated 2 of 2' in rotated.stdout
    status = kroma('secrets', 'status').stdout
    assert f'{key_ref(key_b)}\t2\tcurrent' in status and key_ref(key_a) not in status
    assert '0 plaintext' in status

    monkeypatch.delenv('KROMA_MASTER_KEY_PREVIOUS')
    deps = build_deps(Settings())
    with deps.sessions() as s:
        values = {
            a.name: provider_accounts.provider_config(s, a.id, secrets=deps.secrets).api_key
            for a in provider_accounts.list_accounts(s)
        }
    deps.engine.dispose()
    assert values == {'one': GOOD, 'two': 'rbg-0123456789abcdef'}
    assert kroma('provider', 'test', 'one').exit_code == 0


def test_failures_exit_non_zero_with_one_line(kroma: Kroma, tmp_path: Path) -> None:
    assert kroma('secrets', 'status').exit_code == 0  # creates the master key file (logged once)
    assert 'No provider account named "nope"' in one_line_error(kroma('provider', 'test', 'nope'))
    assert 'No key arrived on stdin' in one_line_error(
        kroma('provider', 'add', 'x', '--kind', 'openai', '--key-stdin', stdin='')
    )
    assert '--key-stdin' in one_line_error(kroma('provider', 'set-key', 'x'))
    (tmp_path / 'notes.png').write_text('not an image')
    image = ['--image', str(tmp_path / 'notes.png')]
    assert 'notes.png: not a readable' in one_line_error(
        kroma('generate', '--provider', 'x', '--prompt', 'p', *image, '--out', str(tmp_path))
    )
    assert 'Cannot read' in one_line_error(
        kroma('generate', '--provider', 'x', '--prompt', 'p', '--image', str(tmp_path), '--out', str(tmp_path))
    )
    kroma('provider', 'add', 'keyless', '--kind', 'openai')
    assert 'No API key is stored' in one_line_error(kroma('provider', 'test', 'keyless'))
    assert 'must look like 1024x1536' in one_line_error(
        kroma('generate', '--provider', 'keyless', '--prompt', 'p', '--size', 'big', '--out', str(tmp_path))
    )
    assert 'already exists' in one_line_error(kroma('provider', 'add', 'keyless', '--kind', 'openai'))
    assert kroma('provider', 'delete', 'keyless').exit_code == 0
    assert 'no provider accounts' in kroma('provider', 'list').stdout


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG that claims 900 megapixels: only its header is real."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

    header = struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0)
    return PNG + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(b'\0' * 4096)) + chunk(b'IEND', b'')


def truncated_png() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 40).convert('RGB').save(buf, 'PNG')
    return buf.getvalue()[:-4000]


@pytest.mark.parametrize(
    'answer, reason',
    [
        (b'<html><body>503 Service Unavailable</body></html>', 'image 1: not a readable PNG, JPEG or WebP image'),
        (truncated_png(), 'image 1: not a readable PNG, JPEG or WebP image'),
        (os.urandom(22 * 1024 * 1024), 'image 1: not a readable PNG, JPEG or WebP image'),
        (png_bomb(), 'over the 40 megapixel limit'),
    ],
    ids=['not-an-image', 'truncated-png', '22-mb-junk', '900-megapixel-bomb'],
)
def test_generate_refuses_what_a_run_refuses(
    kroma: Kroma, fake: FakeOpenAIServer, tmp_path: Path, answer: bytes, reason: str
) -> None:
    kroma('provider', 'add', 'main', '--kind', 'openai', '--base-url', fake.base_url, '--key-stdin', stdin=GOOD)
    fake.answer_next(answer)
    out = tmp_path / 'out'
    result = kroma('generate', '--provider', 'main', '--prompt', 'a harbour', '--size', '1024x1024', '--out', str(out))
    line = one_line_error(result)
    assert 'unusable image, not saved' in line and reason in line
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize('mode', ['drip', 'hang'])
def test_generate_ends_within_the_accounts_deadline(
    kroma: Kroma, fake: FakeOpenAIServer, tmp_path: Path, mode: str
) -> None:
    add = ['provider', 'add', 'main', '--kind', 'openai', '--base-url', fake.base_url, '--timeout', '2']
    assert kroma(*add, '--key-stdin', stdin=GOOD).exit_code == 0
    fake.stall_next(mode, path_prefix='/v1/images')
    started = time.monotonic()
    result = kroma('generate', '--provider', 'main', '--prompt', 'a harbour', '--out', str(tmp_path / 'out'))
    assert time.monotonic() - started < 4
    line = one_line_error(result)
    assert 'no complete answer within 2 s' in line and 'may still have been processed and billed' in line


def test_generate_refuses_an_empty_prompt_before_any_call(kroma: Kroma, fake: FakeOpenAIServer, tmp_path: Path) -> None:
    kroma('provider', 'add', 'main', '--kind', 'openai', '--base-url', fake.base_url, '--key-stdin', stdin=GOOD)
    assert 'prompt is empty' in one_line_error(
        kroma('generate', '--provider', 'main', '--prompt', '  ', '--out', str(tmp_path))
    )
    assert fake.image_requests() == []
