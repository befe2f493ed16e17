"""`kroma backup`: back up the demo project, restore a wiped data dir bit for bit, dedupe, and one-line failures."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlmodel import func, select
from typer.testing import CliRunner

from app import cli_backups
from app import settings as app_settings
from app.wiring import build_deps
from models.assets import Asset
from models.db import make_engine, session_factory
from models.project import Project
from models.references import Character, Scene
from services.projects.demo import ensure_demo
from tests.fakes.s3_server import S3Server

COUNTED = (Project, Asset, Character, Scene)


@pytest.fixture(scope='module')
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def home(home: Path, s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's fresh home (tests/app/conftest.py), with backups going to a fresh bucket on the moto server."""
    monkeypatch.delenv('KROMA_BACKUP_S3_PREFIX', raising=False)
    monkeypatch.setenv('KROMA_BACKUP_S3_ENDPOINT_URL', s3.endpoint_url)
    monkeypatch.setenv('KROMA_BACKUP_S3_BUCKET', s3.create_bucket(f'kroma-{uuid.uuid4().hex[:10]}'))
    monkeypatch.setenv('KROMA_BACKUP_S3_REGION', 'us-east-1')
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')
    app_settings.get_settings.cache_clear()
    return home


@pytest.fixture
def kroma() -> typer.Typer:
    cli = typer.Typer()
    cli_backups.register(cli)
    return cli


def invoke(cli: typer.Typer, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, ['backup', *args])
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (root / 'projects').rglob('*')
        if p.is_file()
    }


def row_counts(db: Path) -> dict[str, int]:
    engine = make_engine(f'sqlite:///{db}')
    try:
        with session_factory(engine)() as s:
            return {m.__name__: s.exec(select(func.count()).select_from(m)).one() for m in COUNTED}
    finally:
        engine.dispose()


def bucket(s3: S3Server) -> dict[str, bytes]:
    name = app_settings.get_settings().backup_s3_bucket
    client = s3.client()
    keys = [o['Key'] for o in client.list_objects_v2(Bucket=name).get('Contents', [])]
    return {k: client.get_object(Bucket=name, Key=k)['Body'].read() for k in keys}


def test_backup_wipe_restore_round_trip(s3: S3Server, home: Path, kroma: typer.Typer) -> None:
    deps = build_deps(app_settings.get_settings())
    ensure_demo(deps.sessions, deps.store)
    deps.engine.dispose()
    files, rows, key_bytes = tree(home), row_counts(home / 'kroma.db'), (home / 'master.key').read_bytes()
    assert len(files) >= 5 and all(rows.values()), (files, rows)

    out = invoke(kroma, 'now', '--project', 'demo')
    assert 'Backup complete' in out and 'kroma/snapshots/' in out
    first_objects = set(bucket(s3))
    out = invoke(kroma, 'now', '--project', 'demo')  # nothing changed but the database
    assert '0 B of files uploaded' in out
    objects = bucket(s3)
    new = set(objects) - first_objects
    assert len([k for k in new if '/objects/' in k]) == 1, new  # only the database copy, no file object
    assert len([k for k in new if '/snapshots/' in k]) == 1
    assert not [k for k, body in objects.items() if key_bytes in body], 'the master key leaked into the bucket'

    listed = invoke(kroma, 'list').strip().splitlines()
    assert len(listed) == 2 and all('demo' in line for line in listed)
    newest = listed[0].split()[0]
    assert f'ok: kroma/snapshots/{newest}' in invoke(kroma, 'verify', newest)

    shutil.rmtree(home)  # the disk died
    app_settings.get_settings.cache_clear()
    out = invoke(kroma, 'restore', newest, '--to', str(home))
    assert 'restored' in out and 'master key' in out
    assert tree(home) == files
    assert row_counts(home / 'kroma.db') == rows
    assert not (home / 'master.key').exists()


def test_failures_exit_non_zero_with_one_line(s3: S3Server, home: Path, kroma: typer.Typer, tmp_path: Path) -> None:
    build_deps(app_settings.get_settings()).engine.dispose()  # a studio that has run once
    occupied = tmp_path / 'occupied'
    occupied.mkdir()
    (occupied / 'keep.txt').write_text('mine')
    out = invoke(kroma, 'restore', 'nothing.json', '--to', str(occupied), ok=False)
    assert out.strip().splitlines() == [f'error: {occupied} is not empty; restore only into a new or empty folder.']
    assert (occupied / 'keep.txt').read_text() == 'mine'
    out = invoke(kroma, 'verify', '20260101T000000Z-missing', ok=False)
    assert out.strip() == 'error: Snapshot 20260101T000000Z-missing.json does not exist in the bucket.'
    assert invoke(kroma, 'now', '--project', 'nope', ok=False).strip() == 'error: No project "nope".'
    assert 'no snapshots in' in invoke(kroma, 'list')
