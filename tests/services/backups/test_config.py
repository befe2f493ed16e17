"""Which S3 target a backup uses: global settings, project overrides, and credentials from secrets or boto3's chain."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import select

from models.db import SessionFactory
from models.ops import Backup
from models.project import ProjectCreate, ProjectRead, StorageUpdate
from services.backups.config import (
    NO_BUCKET,
    backup_history,
    backup_service,
    human_size,
    resolve_target,
    run_nightly,
)
from services.backups.defaults import BackupDefaults
from services.backups.object_store import make_s3_client
from services.errors import BackupFailed, Invalid
from services.projects import projects
from services.security.secrets import SecretStore, load_keyring
from tests.fakes.s3_server import S3Server


@pytest.fixture(scope='module')
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    return SecretStore(load_keyring(env_key=None, key_file=tmp_path / 'test.key', previous=None))


@pytest.fixture
def no_aws_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """boto3 finds no credentials anywhere, so only what resolve_target returns can sign a request."""
    for name in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_EC2_METADATA_DISABLED', 'true')


def make_project(sessions: SessionFactory, data_dir: Path, slug: str = 'moon', **storage: str) -> None:
    with sessions() as s:
        projects.create_project(s, ProjectCreate(slug=slug, name=slug.title()), data_dir=data_dir)
        if storage:
            projects.update_storage(s, slug, StorageUpdate(**storage), data_dir=data_dir)


def read(sessions: SessionFactory, slug: str = 'moon') -> ProjectRead:
    with sessions() as s:
        return projects.get_project(s, slug)


GLOBAL = BackupDefaults(endpoint_url='http://s3.local:9000', bucket='studio', prefix='kroma', region='eu-west-1')


def test_no_bucket_anywhere_is_a_clear_invalid(sessions: SessionFactory, data_dir: Path) -> None:
    make_project(sessions, data_dir)
    with pytest.raises(Invalid) as err:
        resolve_target(
            defaults=BackupDefaults(**{'bucket': None, 'prefix': 'kroma'}), project=None, secrets=None, session=None
        )
    assert err.value.user_message == NO_BUCKET
    with pytest.raises(Invalid, match='KROMA_BACKUP_S3_BUCKET'):
        resolve_target(defaults=BackupDefaults(**{'bucket': '  '}), project=read(sessions), secrets=None, session=None)


def test_global_settings_then_project_overrides_field_by_field(sessions: SessionFactory, data_dir: Path) -> None:
    target = resolve_target(defaults=GLOBAL, project=None, secrets=None, session=None)
    assert (target.bucket, target.prefix, target.endpoint_url, target.region) == (
        'studio', 'kroma', 'http://s3.local:9000', 'eu-west-1'
    )  # fmt: skip
    assert (target.access_key_id, target.secret_access_key) == (None, None)  # boto3's usual chain
    make_project(sessions, data_dir, s3_bucket='moon-bucket', s3_prefix='moon')
    target = resolve_target(defaults=GLOBAL, project=read(sessions), secrets=None, session=None)
    assert (target.bucket, target.prefix, target.endpoint_url, target.region) == (
        'moon-bucket', 'moon', 'http://s3.local:9000', 'eu-west-1'
    )  # fmt: skip
    only_project = resolve_target(defaults=BackupDefaults(), project=read(sessions), secrets=None, session=None)
    assert (only_project.bucket, only_project.region, only_project.endpoint_url) == ('moon-bucket', 'us-east-1', None)


def test_credentials_come_from_secrets_project_scope_first(
    sessions: SessionFactory, data_dir: Path, secrets: SecretStore
) -> None:
    make_project(sessions, data_dir)
    project = read(sessions)
    with sessions() as s:
        secrets.put(s, scope='global', provider='s3', name='access_key_id', value='GLOBAL-ID')
        secrets.put(s, scope='global', provider='s3', name='secret_access_key', value='global-secret')
        target = resolve_target(defaults=GLOBAL, project=project, secrets=secrets, session=s)
        assert (target.access_key_id, target.secret_access_key) == ('GLOBAL-ID', 'global-secret')
        assert 'global-secret' not in repr(target)
        secrets.put(s, scope=project.id, provider='s3', name='access_key_id', value='MOON-ID')
        with pytest.raises(Invalid, match='secret_access_key'):  # half a pair is a mistake, not a fallback
            resolve_target(defaults=GLOBAL, project=project, secrets=secrets, session=s)
        secrets.put(s, scope=project.id, provider='s3', name='secret_access_key', value='moon-secret')
        target = resolve_target(defaults=GLOBAL, project=project, secrets=secrets, session=s)
        assert (target.access_key_id, target.secret_access_key) == ('MOON-ID', 'moon-secret')
        target = resolve_target(defaults=GLOBAL, project=None, secrets=secrets, session=s)
        assert target.access_key_id == 'GLOBAL-ID'


def test_secret_credentials_reach_a_real_s3_server(
    s3: S3Server, sessions: SessionFactory, data_dir: Path, secrets: SecretStore, no_aws_chain: None
) -> None:
    make_project(sessions, data_dir)
    (data_dir / 'projects' / 'moon' / 'page.txt').write_text('panel one')
    values = {'endpoint_url': s3.endpoint_url, 'bucket': s3.create_bucket(f'kroma-{uuid.uuid4().hex[:10]}')}
    bare = resolve_target(defaults=BackupDefaults(**values), project=None, secrets=None, session=None)
    with pytest.raises(BackupFailed, match='no S3 credentials'):
        backup_service(bare, data_dir=data_dir, db_path=data_dir / 'kroma.db').list_snapshots()
    with sessions() as s:
        secrets.put(s, scope='global', provider='s3', name='access_key_id', value='test')
        secrets.put(s, scope='global', provider='s3', name='secret_access_key', value='test')
        target = resolve_target(defaults=BackupDefaults(**values), project=None, secrets=secrets, session=s)
    service = backup_service(target, data_dir=data_dir, db_path=data_dir / 'kroma.db')
    snap = service.snapshot(sessions)
    assert snap.status == 'complete' and snap.file_count == 1
    with sessions() as s:
        history = backup_history(s, service.list_snapshots())
    assert [(h.key, h.status, h.file_count, h.duration_s is not None) for h in history] == [
        (snap.snapshot_key, 'complete', 1, True)
    ]


def test_nightly_backs_up_everything_and_projects_with_their_own_bucket(
    s3: S3Server, sessions: SessionFactory, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')
    main, own = (s3.create_bucket(f'kroma-{uuid.uuid4().hex[:10]}') for _ in range(2))
    make_project(sessions, data_dir, 'moon')
    make_project(sessions, data_dir, 'sun', s3_bucket=own)
    (data_dir / 'projects' / 'sun' / 'art.txt').write_text('sun art')
    values = {'endpoint_url': s3.endpoint_url, 'bucket': main, 'prefix': 'kroma'}
    results = run_nightly(
        sessions, data_dir=data_dir, db_path=data_dir / 'kroma.db', defaults=BackupDefaults(**values), secrets=None,
        keep_daily=7, keep_weekly=4,
    )  # fmt: skip
    assert [(r['scope'], r['bucket'], r['ok']) for r in results] == [('all', main, True), ('sun', own, True)]
    with sessions() as s:
        assert {b.status for b in s.exec(select(Backup)).all()} == {'complete'}
    s3.stop()
    try:  # an unreachable server is an expected failure: logged, reported, never raised out of the job
        failed = run_nightly(
            sessions, data_dir=data_dir, db_path=data_dir / 'kroma.db', defaults=BackupDefaults(**values), secrets=None,
            keep_daily=7, keep_weekly=4,
            client_factory=partial(make_s3_client, connect_timeout=0.5, max_attempts=1),
        )  # fmt: skip
    finally:
        s3.start()
    assert [(r['scope'], r['ok']) for r in failed] == [('all', False), ('sun', False)]
    assert 'could not reach the storage server' in failed[0]['error']


@pytest.mark.parametrize(
    ('n', 'shown'), [(None, '?'), (0, '0 B'), (1023, '1023 B'), (1536, '1.5 KB'), (5 * 1024**3, '5.0 GB')]
)
def test_human_size(n: int | None, shown: str) -> None:
    assert human_size(n) == shown
