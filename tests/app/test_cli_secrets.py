"""Secrets at the edges: a lost master key file, tampered rows in a rotation, private files from the start."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from services.security.master_keys import key_ref

Kroma = Callable[..., Result]
KEY = 'sk-kroma-secrets-Xv83Lq0Pz7'


@pytest.fixture
def kroma(home: Path) -> Iterator[Kroma]:
    runner = CliRunner()
    umask = os.umask(0o022)  # a usual umask: files would be world-readable unless made private on purpose

    def invoke(*args: str, stdin: str | None = None) -> Result:
        get_settings.cache_clear()
        return runner.invoke(cli, list(args), input=stdin)

    yield invoke
    os.umask(umask)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    return lines[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_database_and_key_are_private(kroma: Kroma, home: Path) -> None:
    assert kroma('provider', 'add', 'main', '--kind', 'openai', '--key-stdin', stdin=KEY).exit_code == 0
    assert mode(home) == 0o700 and mode(home / 'kroma.db') == 0o600 and mode(home / 'master.key') == 0o600
    assert all(mode(p) == 0o600 for p in home.glob('kroma.db-*'))


def test_a_missing_key_file_is_not_silently_replaced(kroma: Kroma, home: Path) -> None:
    assert kroma('provider', 'add', 'main', '--kind', 'openai', '--key-stdin', stdin=KEY).exit_code == 0
    lost = key_ref(base64.urlsafe_b64decode((home / 'master.key').read_text().strip()))
    (home / 'master.key').unlink()  # a restore without the key file, a wiped folder…
    for command in (['secrets', 'status'], ['provider', 'list'], ['studio', '--port', '8765']):
        line = one_line_error(kroma(*command))
        assert f'encrypted with key {lost} (1 secret)' in line and 'Restore that file from your backup' in line
        assert 'kroma secrets forget-lost-key --confirm' in line and 'kroma provider set-key' in line
    assert not (home / 'master.key').exists()  # nothing was papered over with a new key
    assert '--confirm' in one_line_error(kroma('secrets', 'forget-lost-key'))
    forgot = kroma('secrets', 'forget-lost-key', '--confirm')
    assert forgot.exit_code == 0, forgot.output
    assert 'main: key deleted; enter it again with kroma provider set-key main --key-stdin' in forgot.stdout
    assert 'no key' in kroma('provider', 'list').stdout
    assert kroma('provider', 'set-key', 'main', '--key-stdin', stdin=KEY).exit_code == 0
    assert '1 encrypted' in kroma('secrets', 'status').stdout


def test_rotation_checks_every_row_first_and_names_the_tampered_ones(
    kroma: Kroma, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_a, key_b = os.urandom(32), os.urandom(32)
    monkeypatch.setenv('KROMA_MASTER_KEY', base64.urlsafe_b64encode(key_a).decode())
    assert kroma('provider', 'add', 'good', '--kind', 'openai', '--key-stdin', stdin=KEY).exit_code == 0
    assert (
        kroma('provider', 'add', 'bad', '--kind', 'removebg', '--key-stdin', stdin='rbg-0123456789abcdef').exit_code
        == 0
    )
    with sqlite3.connect(home / 'kroma.db') as db:  # someone edits one ciphertext by hand
        (sid, text) = db.execute("SELECT id, ciphertext FROM secret WHERE provider = 'removebg'").fetchone()
        flipped = text[:-6] + ('A' if text[-6] != 'A' else 'B') + text[-5:]
        db.execute('UPDATE secret SET ciphertext = ? WHERE id = ?', (flipped, sid))

    same_key = kroma('secrets', 'rotate')  # nothing to rotate, but the damage is found now, not at the next call
    assert 'could not be decrypted' in one_line_error(same_key)
    assert 'tampered: Secret removebg/account:' in same_key.stdout
    assert 'Re-enter it: kroma provider set-key bad --key-stdin' in same_key.stdout

    monkeypatch.setenv('KROMA_MASTER_KEY', base64.urlsafe_b64encode(key_b).decode())
    monkeypatch.setenv('KROMA_MASTER_KEY_PREVIOUS', base64.urlsafe_b64encode(key_a).decode())
    rotated = kroma('secrets', 'rotate')
    assert 'Rotated 1 secret(s), but 1 could not be decrypted' in one_line_error(rotated)
    assert 'set-key bad' in rotated.stdout and 'set-key good' not in rotated.stdout
    status = kroma('secrets', 'status').stdout
    assert f'{key_ref(key_b)}\t1\tcurrent' in status and f'{key_ref(key_a)}\t1\told' in status
    assert KEY not in rotated.output + same_key.output + status
