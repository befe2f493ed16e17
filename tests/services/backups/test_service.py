"""Backups against a real S3 endpoint (moto server over HTTP): snapshot, dedupe, interruption, restore, verify, retention."""

from __future__ import annotations

import hashlib
import io
import os
import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select

from models.db import SessionFactory
from models.ops import Backup
from models.project import Project
from services.backups.service import BackupService, S3Target, make_s3_client, select_retained
from services.errors import BackupFailed, Invalid, NotFound
from tests.fakes.s3_server import S3Server

MASTER_KEY = b'MASTER-KEY-' + os.urandom(32)
D = datetime


@dataclass
class Clock:
    """Injected clock: each snapshot is taken at whatever time the test sets."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def png(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    """A real, incompressible PNG whose content depends on seed."""
    buf = io.BytesIO()
    Image.frombytes('RGB', size, random.Random(seed).randbytes(size[0] * size[1] * 3)).save(buf, 'PNG')
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture(scope='module')
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def target(s3: S3Server) -> S3Target:
    return s3_target(s3, s3.create_bucket(f'kroma-{uuid.uuid4().hex[:12]}'))


def s3_target(s3: S3Server, bucket: str) -> S3Target:
    creds = {'access_key_id': 'test', 'secret_access_key': 'test'}  # moto's dummy credentials, never real AWS
    return S3Target(bucket=bucket, prefix='kroma', endpoint_url=s3.endpoint_url, **creds)


@pytest.fixture
def studio(data_dir: Path, sessions: SessionFactory) -> dict[str, bytes]:
    """A data dir with one project's real files, plus things that must never be backed up."""
    with sessions() as s:
        s.add(Project(name='Moon Saga', slug='moon', description='a test project'))
    write(data_dir / 'master.key', MASTER_KEY)
    root = data_dir / 'projects' / 'moon'
    files = {
        'projects/moon/assets/scene-1.png': png(1),
        'projects/moon/assets/scene-2.png': png(2, (64, 64)),
        'projects/moon/assets/copy-of-scene-1.png': png(1),  # same content twice: one object
        'projects/moon/.thumbs/scene-1.webp': png(3, (16, 12)),
        'projects/moon/runs/run-1.log': b'generated 2 candidates\n',
        'projects/moon/exports/page-01.png': png(4, (80, 60)),
    }
    for rel, data in files.items():
        write(data_dir / rel, data)
    write(root / 'assets' / '.scene-3.png.abc123.tmp', b'half-written temp file')
    (root / 'assets' / 'key-link').symlink_to(data_dir / 'master.key')
    return files


def make_service(
    data_dir: Path, target: S3Target, clock: Clock | None = None, *, workers: int = 4, **client_kw: Any
) -> BackupService:
    return BackupService(
        data_dir=data_dir,
        db_path=data_dir / 'kroma.db',
        s3_client=make_s3_client(target, **client_kw),
        target=target,
        clock=clock or Clock(datetime(2026, 3, 2, 12, 0, 0)),
        workers=workers,
    )


def bucket_objects(s3: S3Server, target: S3Target) -> dict[str, bytes]:
    client = s3.client()
    keys = [o['Key'] for o in client.list_objects_v2(Bucket=target.bucket).get('Contents', [])]
    return {k: client.get_object(Bucket=target.bucket, Key=k)['Body'].read() for k in keys}


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha(p.read_bytes()) for p in root.rglob('*') if p.is_file()}


def test_snapshot_restores_bit_for_bit_and_never_uploads_the_master_key(
    s3: S3Server, target: S3Target, data_dir: Path, sessions: SessionFactory, studio: dict[str, bytes], tmp_path: Path
) -> None:
    steps: list[tuple[float, str]] = []
    writer = sqlite3.connect(data_dir / 'kroma.db', timeout=30, isolation_level=None)

    def busy_studio(fraction: float, message: str) -> None:
        """While the database is copied, the studio holds an uncommitted write: the copy must not contain it."""
        steps.append((fraction, message))
        if message == 'Starting backup':
            writer.execute('BEGIN IMMEDIATE')
            writer.execute("INSERT INTO auditevent (id, actor, action, payload, created_at) VALUES "
                           "('x', 'studio', 'half-done', '{}', '2026-01-01 00:00:00')")  # fmt: skip
        elif message == 'Database snapshot uploaded':
            writer.execute('ROLLBACK')

    service = make_service(data_dir, target)
    try:
        result = service.snapshot(sessions, on_progress=busy_studio)
    finally:
        writer.close()
    assert result.status == 'complete' and result.error == ''
    assert result.snapshot_key == f'kroma/snapshots/20260302T120000Z-{result.id}.json'
    assert result.file_count == len(studio)
    assert result.uploaded_bytes == sum(len(d) for d in {sha(d): d for d in studio.values()}.values())
    assert result.size_bytes > sum(len(d) for d in studio.values())  # files plus the database
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[-1][0] == 1.0
    with sessions() as s:
        row = s.exec(select(Backup)).one()
        assert (row.status, row.snapshot_key, row.manifest['file_count']) == ('complete', result.snapshot_key, 6)

    objects = bucket_objects(s3, target)
    assert not [k for k, body in objects.items() if MASTER_KEY in body], 'master.key leaked into the bucket'
    assert not any(b'half-written' in body for body in objects.values())
    assert [k for k in objects if '/snapshots/' in k] == [result.snapshot_key]
    assert not [k for k in objects if '/leases/' in k]
    listed = service.list_snapshots()
    assert [(i['snapshot_key'], i['projects'], i['file_count']) for i in listed] == [(result.snapshot_key, ['moon'], 6)]
    assert service.verify(result.snapshot_key, session_factory=sessions)['ok']
    with sessions() as s:
        assert s.exec(select(Backup)).one().verified_at is not None

    restored = tmp_path / 'restored'
    assert service.restore(result.snapshot_key, restored)['files'] == len(studio)
    got = tree(restored)
    assert {k: v for k, v in got.items() if k != 'kroma.db'} == {k: sha(v) for k, v in studio.items()}
    assert not (restored / 'master.key').exists()
    con = sqlite3.connect(restored / 'kroma.db')
    try:
        assert con.execute('PRAGMA integrity_check').fetchone() == ('ok',)
        assert con.execute('SELECT count(*) FROM auditevent').fetchone() == (0,)  # the uncommitted row is not there
        assert con.execute('SELECT status, snapshot_key FROM backup').fetchall() == [('complete', result.snapshot_key)]
        assert con.execute('SELECT slug, name, description FROM project').fetchall() == [
            ('moon', 'Moon Saga', 'a test project')
        ]
    finally:
        con.close()

    with pytest.raises(Invalid, match='not empty'):  # never over an existing data dir
        service.restore(result.snapshot_key, restored)
    assert tree(restored) == got
    with pytest.raises(NotFound):
        service.restore('20990101T000000Z-nope.json', tmp_path / 'fresh')
    (tmp_path / 'empty').mkdir()
    assert service.restore(result.snapshot_key.rsplit('/', 1)[-1], tmp_path / 'empty')['files'] == len(studio)


def test_a_project_snapshot_holds_only_that_projects_rows_and_files(
    target: S3Target, data_dir: Path, sessions: SessionFactory, studio: dict[str, bytes], tmp_path: Path
) -> None:
    """A project's backup is its own data: never another project, a token hash, another scope's secret or the audit log."""
    from models.ops import ApiToken, AuditEvent
    from models.provider import Secret

    with sessions() as s:
        sun = Project(name='Sun', slug='sun')
        s.add(sun)
        s.flush()
        moon = s.exec(select(Project).where(Project.slug == 'moon')).one()
        s.add(ApiToken(label='admin', token_hash='a' * 64, prefix='kroma_aaaa'))
        s.add(Secret(scope='global', provider='s3', name='secret_access_key', ciphertext='G', key_ref='k'))
        s.add(Secret(scope=sun.id, provider='openai', name='api_key', ciphertext='S', key_ref='k'))
        s.add(Secret(scope=moon.id, provider='openai', name='api_key', ciphertext='M', key_ref='k'))
        s.add(AuditEvent(actor='studio', action='token.create', project_id=None, payload={}))
        s.add(AuditEvent(actor='studio', action='project.create', project_id=sun.id, payload={'secret-ish': 'sun'}))
        s.add(AuditEvent(actor='studio', action='project.create', project_id=moon.id, payload={}))
    write(data_dir / 'projects' / 'sun' / 'assets' / 'sun.png', png(9))
    service = make_service(data_dir, target)
    result = service.snapshot(sessions, project_slug='moon')
    restored = tmp_path / 'only-moon'
    service.restore(result.snapshot_key, restored)
    assert not (restored / 'projects' / 'sun').exists()
    con = sqlite3.connect(restored / 'kroma.db')
    try:
        assert con.execute('SELECT slug FROM project').fetchall() == [('moon',)]
        assert con.execute('SELECT count(*) FROM apitoken').fetchone() == (0,)
        assert con.execute('SELECT scope FROM secret').fetchall() == [(moon.id,)]
        assert con.execute('SELECT project_id FROM auditevent').fetchall() == [(moon.id,)]
        assert con.execute('SELECT project_id, status FROM backup').fetchall() == [(moon.id, 'complete')]
    finally:
        con.close()
    raw_db = (restored / 'kroma.db').read_bytes()
    assert b'secret-ish' not in raw_db and b'a' * 64 not in raw_db  # vacuumed: deleted rows leave no trace


def test_unchanged_files_are_never_uploaded_twice(
    target: S3Target, data_dir: Path, sessions: SessionFactory, studio: dict[str, bytes], tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 3, 2, 12, 0))
    service = make_service(data_dir, target, clock)
    first = service.snapshot(sessions)
    clock.now += timedelta(hours=1)
    second = service.snapshot(sessions)
    assert first.uploaded_bytes > 0
    assert second.uploaded_bytes == 0 and second.file_count == first.file_count
    changed = png(99, (50, 50))
    write(data_dir / 'projects' / 'moon' / 'assets' / 'scene-2.png', changed)
    clock.now += timedelta(hours=1)
    third = service.snapshot(sessions, project_slug='moon')
    assert third.uploaded_bytes == len(changed)
    assert len(service.list_snapshots()) == 3
    with pytest.raises(NotFound):
        service.snapshot(sessions, project_slug='nobody')
    with sessions() as s:
        assert len(s.exec(select(Backup)).all()) == 3  # an unknown project creates no row
        s.add(Project(name='Sun', slug='sun', storage_root=str(tmp_path / 'elsewhere' / 'sun')))
    write(tmp_path / 'elsewhere' / 'sun' / 'sun.png', png(7))  # a storage root outside the data dir
    key = service.snapshot(sessions, project_slug='sun').snapshot_key
    service.restore(key, tmp_path / 'restored')
    assert tree(tmp_path / 'restored' / 'projects') == {'sun/sun.png': sha(png(7))}  # scope: that project only


def test_interrupted_upload_leaves_no_manifest_and_the_next_backup_completes(
    data_dir: Path, sessions: SessionFactory, studio: dict[str, bytes]
) -> None:
    with S3Server() as server:
        target = s3_target(server, server.create_bucket(f'kroma-outage-{uuid.uuid4().hex[:8]}'))
        service = make_service(data_dir, target, workers=1, connect_timeout=1, read_timeout=5, max_attempts=1)

        def pull_the_plug(fraction: float, message: str) -> None:
            if message.startswith(('Uploaded', 'Unchanged')) and server.running:
                server.stop()

        with pytest.raises(BackupFailed, match='could not reach the storage server'):
            service.snapshot(sessions, on_progress=pull_the_plug)
        with sessions() as s:
            row = s.exec(select(Backup)).one()
            assert row.status == 'failed' and 'could not reach' in row.error and row.snapshot_key == ''

        server.restart()
        assert not [k for k in bucket_objects(server, target) if '/snapshots/' in k]
        done = service.snapshot(sessions)
        assert done.status == 'complete'
        assert 0 < done.uploaded_bytes < sum(len(d) for d in studio.values())  # part went up before the outage
        assert service.verify(done.snapshot_key)['ok']
        assert [i['snapshot_key'] for i in service.list_snapshots()] == [done.snapshot_key]


def test_verify_finds_deleted_and_corrupted_objects(
    s3: S3Server, target: S3Target, data_dir: Path, sessions: SessionFactory, studio: dict[str, bytes], tmp_path: Path
) -> None:
    service = make_service(data_dir, target)
    key = service.snapshot(sessions).snapshot_key
    client = s3.client()
    gone, swapped, shrunk = (studio[f'projects/moon/{p}'] for p in ('runs/run-1.log', 'assets/scene-2.png',
                                                                      'exports/page-01.png'))  # fmt: skip
    client.delete_object(Bucket=target.bucket, Key=f'kroma/objects/{sha(gone)[:2]}/{sha(gone)}')
    same_size = bytes(b ^ 0xFF for b in swapped)  # corrupted in place: same size, metadata still claims the hash
    client.put_object(Bucket=target.bucket, Key=f'kroma/objects/{sha(swapped)[:2]}/{sha(swapped)}', Body=same_size,
                      Metadata={'sha256': sha(swapped)})  # fmt: skip
    client.put_object(Bucket=target.bucket, Key=f'kroma/objects/{sha(shrunk)[:2]}/{sha(shrunk)}', Body=b'x')

    deep = service.verify(key)
    assert not deep['ok'] and deep['checked'] == len(studio) + 1
    assert deep['missing'] == ['projects/moon/runs/run-1.log']
    assert deep['mismatched'] == ['projects/moon/assets/scene-2.png', 'projects/moon/exports/page-01.png']
    shallow = service.verify(key, deep=False)  # metadata + size only: misses the same-size swap, by design
    assert shallow['missing'] == deep['missing'] and shallow['mismatched'] == ['projects/moon/exports/page-01.png']

    with pytest.raises(BackupFailed):
        service.restore(key, tmp_path / 'broken')
    assert not (tmp_path / 'broken').exists() and not list(tmp_path.glob('.broken*'))


def test_retention_keeps_the_right_snapshots_and_every_object_they_need(
    s3: S3Server, target: S3Target, data_dir: Path, sessions: SessionFactory, studio: dict[str, bytes], tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 1, 1))
    service = make_service(data_dir, target, clock)
    art = data_dir / 'projects' / 'moon' / 'assets' / 'evolving.png'
    # Mon 2 + Wed 4 Feb are ISO week 6; Mon 9, Tue 10 and Wed 11 Feb are week 7
    times = [D(2026, 2, 2, 9), D(2026, 2, 4, 9), D(2026, 2, 9, 8), D(2026, 2, 9, 20), D(2026, 2, 10, 7),
             D(2026, 2, 11, 6), D(2026, 2, 11, 23)]  # fmt: skip
    keys: dict[datetime, str] = {}
    for i, when in enumerate(times):
        write(art, png(1000 + i))  # each snapshot has one object of its own
        clock.now = when
        keys[when] = service.snapshot(sessions).snapshot_key

    result = service.apply_retention(keep_daily=2, keep_weekly=2, session_factory=sessions)
    expected = {times[1], times[4], times[6]}  # last 2 days: Feb 11 23:00, Feb 10; weeks 7 (Feb 11) and 6 (Feb 4)
    assert expected == select_retained(times, keep_daily=2, keep_weekly=2)
    assert sorted(result['kept']) == sorted(keys[t] for t in expected)
    assert sorted(result['deleted_snapshots']) == sorted(keys[t] for t in times if t not in expected)
    assert result['deleted_objects'] == 8 and not result['sweep_skipped']  # 4 versions of evolving.png + 4 dbs

    objects = bucket_objects(s3, target)
    assert sorted(k for k in objects if '/snapshots/' in k) == sorted(keys[t] for t in expected)
    for i, when in enumerate(times):
        key = f'kroma/objects/{sha(png(1000 + i))[:2]}/{sha(png(1000 + i))}'
        assert (key in objects) == (when in expected)
    for when in expected:
        assert service.verify(keys[when])['ok']
    restored = tmp_path / 'restored'
    service.restore(keys[times[1]], restored)
    assert sha((restored / 'projects/moon/assets/evolving.png').read_bytes()) == sha(png(1001))
    with sessions() as s:
        statuses = {r.snapshot_key: r.status for r in s.exec(select(Backup)).all()}
    assert statuses == {keys[t]: 'complete' if t in expected else 'expired' for t in times}
    with pytest.raises(Invalid):
        service.apply_retention(keep_daily=0, keep_weekly=0)

    # another machine's snapshot is mid-upload: its objects are not in any manifest yet, so nothing is swept
    orphan, client = f'kroma/objects/ab/{"ab" * 32}', s3.client()
    client.put_object(Bucket=target.bucket, Key=orphan, Body=b'uploaded by a snapshot still running elsewhere')
    client.put_object(Bucket=target.bucket, Key='kroma/leases/other.json', Body=b'{"owner": "elsewhere:1"}')
    assert service.apply_retention(keep_daily=2, keep_weekly=2)['sweep_skipped']
    assert orphan in bucket_objects(s3, target)
    client.delete_object(Bucket=target.bucket, Key='kroma/leases/other.json')
    assert service.apply_retention(keep_daily=2, keep_weekly=2)['deleted_objects'] == 1
    assert orphan not in bucket_objects(s3, target)


@pytest.mark.parametrize(
    ('times', 'daily', 'weekly', 'expected'),
    [
        ([], 3, 3, set()),
        ([D(2026, 1, 5, h) for h in (1, 2, 3)], 1, 0, {D(2026, 1, 5, 3)}),
        ([D(2026, 1, d) for d in (1, 2, 3, 5)], 2, 0, {D(2026, 1, 5), D(2026, 1, 3)}),
        # ISO weeks cross the year: 2020-12-31 and 2021-01-03 are 2020-W53; 2021-01-04 starts 2021-W01
        ([D(2020, 12, 28), D(2020, 12, 31), D(2021, 1, 3), D(2021, 1, 4)], 0, 2, {D(2021, 1, 4), D(2021, 1, 3)}),
        ([D(2020, 1, 1), D(2020, 1, 2)], 1, 1, {D(2020, 1, 2)}),  # a long gap: the last snapshots stay anyway
        ([D(2026, 1, 5), D(2026, 1, 12), D(2026, 1, 13)], 1, 2, {D(2026, 1, 13), D(2026, 1, 5)}),
        ([D(2026, 1, 5), D(2026, 1, 5)], 0, 0, set()),
    ],
)
def test_select_retained(times: list[datetime], daily: int, weekly: int, expected: set[datetime]) -> None:
    assert select_retained(times, keep_daily=daily, keep_weekly=weekly) == expected
    with pytest.raises(Invalid):
        select_retained(times, keep_daily=-1, keep_weekly=weekly)
