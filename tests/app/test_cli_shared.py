"""The shared-studio commands as a new user meets them: on PostgreSQL the built-in backup says what to use instead,
and `kroma worker` / `kroma storage` refuse bad input with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from tests.app.test_cli import kroma


def test_backup_on_postgresql_names_the_alternative(home: Path, pg_cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('KROMA_DATABASE_URL', pg_cluster.new_database())
    monkeypatch.setenv('KROMA_BACKUP_S3_BUCKET', 'b')
    done = kroma('backup', 'now')
    assert done.returncode == 1 and done.stdout == ''
    last = done.stderr.splitlines()[-1]  # after the note that a master key was created for this new studio
    assert last.startswith('error: This studio runs on PostgreSQL: the built-in backup copies a SQLite file')
    assert 'pg_dump --format=custom' in last


def test_worker_and_storage_refuse_bad_input_in_one_line(home: Path) -> None:
    done = kroma('worker', '--stages', 'style,colour')  # the real command once; the same app in-process after
    assert (done.returncode, done.stderr) == (1, 'error: Unknown stages colour; use style, time, weather, character.\n')
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        return runner.invoke(cli, list(args))

    done = invoke('worker', '--concurrency', '0')
    assert (done.exit_code, done.stderr) == (1, 'error: --concurrency must be a whole number from 1 to 64.\n')
    assert invoke('project', 'create', 'saga').exit_code == 0
    done = invoke('storage', 'move', 'saga', '--to', 'ftp://x')
    assert done.stderr == 'error: "ftp://x" is not a file location: use "local" or s3://bucket/prefix.\n'
    assert (
        invoke('storage', 'move', 'saga', '--to', 'local').stderr == 'error: The files of saga are already at local.\n'
    )
    assert invoke('storage', 'show', 'saga').stdout == 'saga\tlocal\tfiles=0\tbytes=0\n'
