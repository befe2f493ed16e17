"""The nightly backup job: persisted in the studio's database, surviving a restart, and backing up when it runs."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlmodel import select

from app import settings as app_settings
from app.backup_schedule import JOB_ID, add_backup_job, scheduled_backup
from app.settings import Settings
from app.wiring import backup_defaults, build_deps
from models.ops import AuditEvent
from services.backups.defaults import BackupDefaults
from services.deps import Deps
from services.errors import Invalid
from tests.fakes.s3_server import S3Server


@pytest.fixture(scope='module')
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ('KROMA_MASTER_KEY', 'KROMA_MASTER_KEY_FILE', 'KROMA_MASTER_KEY_PREVIOUS'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')  # moto's dummy credentials through boto3's usual chain
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')
    app_settings.get_settings.cache_clear()
    yield
    app_settings.get_settings.cache_clear()


def studio(tmp_path: Path, **overrides: object) -> tuple[Settings, Deps]:
    settings = Settings(_env_file=None, home=tmp_path / 'home', **overrides)  # type: ignore[call-arg]
    deps = build_deps(settings)
    (deps.data_dir / 'projects' / 'moon').mkdir(parents=True)
    (deps.data_dir / 'projects' / 'moon' / 'panel.txt').write_text('a panel')
    return settings, deps


def scheduler_on(db_url: str) -> BackgroundScheduler:
    store = SQLAlchemyJobStore(url=db_url, tablename='apscheduler_jobs')
    return BackgroundScheduler(jobstores={'persistent': store}, timezone=UTC)


def test_the_job_survives_a_restart_and_runs_a_backup(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.create_bucket(f'kroma-{uuid.uuid4().hex[:10]}')
    settings, deps = studio(
        tmp_path, backup_s3_bucket=bucket, backup_s3_endpoint_url=s3.endpoint_url, backup_cron='30 2 * * 1-5'
    )
    first = BackgroundScheduler(timezone=UTC)  # no persistent store yet: add_backup_job adds it
    first.start()
    try:
        add_backup_job(first, deps, settings.db_url)
        add_backup_job(first, deps, settings.db_url)  # a second studio start replaces, never duplicates
    finally:
        first.shutdown()

    second = scheduler_on(settings.db_url)
    second.start(paused=True)
    try:
        jobs = second.get_jobs()
    finally:
        second.shutdown()
    assert [j.id for j in jobs] == [JOB_ID]
    job = jobs[0]
    assert isinstance(job.trigger, CronTrigger)
    assert {f.name: str(f) for f in job.trigger.fields}['hour'] == '2'
    assert (job.func, job.coalesce, job.max_instances) == (scheduled_backup, True, 1)
    assert job.misfire_grace_time >= 3600
    with sqlite3.connect(deps.data_dir / 'kroma.db') as con:  # the job store lives in the studio's database
        (state,) = con.execute('SELECT job_state FROM apscheduler_jobs').fetchone()
    assert deps.key_file is not None and deps.key_file.read_bytes() not in state

    results = job.func(*job.args, **job.kwargs)  # what the scheduler would call at 02:30
    assert [(r['scope'], r['ok']) for r in results] == [('all', True)]
    keys = [o['Key'] for o in s3.client().list_objects_v2(Bucket=bucket)['Contents']]
    assert results[0]['snapshot_key'] in keys
    assert any(k.startswith('kroma/objects/') for k in keys)
    with deps.sessions() as s:  # the job writes its own audit events, attributed to itself
        logged = {(e.actor, e.action) for e in s.exec(select(AuditEvent)).all()}
    assert {(f'job:{JOB_ID}', 'backup.complete'), (f'job:{JOB_ID}', 'backup.retention')} <= logged


def test_no_bucket_means_no_job_and_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings, deps = studio(tmp_path, backup_s3_bucket='old-bucket')
    earlier = scheduler_on(settings.db_url)
    earlier.start(paused=True)
    add_backup_job(earlier, deps, settings.db_url)
    earlier.shutdown()

    scheduler = scheduler_on(settings.db_url)  # the bucket setting was removed since: the old job must go
    with caplog.at_level(logging.INFO, logger='app.backup_schedule'):
        add_backup_job(scheduler, replace(deps, backup=replace(deps.backup, bucket=None)), settings.db_url)
    scheduler.start(paused=True)
    try:
        assert scheduler.get_jobs() == []
    finally:
        scheduler.shutdown()
    assert 'KROMA_BACKUP_S3_BUCKET' in caplog.text


def test_a_bad_cron_is_a_clear_error(tmp_path: Path) -> None:
    settings, deps = studio(tmp_path, backup_s3_bucket='b', backup_cron='every night')
    with pytest.raises(Invalid, match='KROMA_BACKUP_CRON'):
        add_backup_job(BackgroundScheduler(timezone=UTC), deps, settings.db_url)


def test_backup_settings_are_plain_values(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, home=tmp_path / 'h', backup_s3_bucket='b')  # type: ignore[call-arg]
    assert backup_defaults(settings) == BackupDefaults(bucket='b', db_path=(tmp_path / 'h' / 'kroma.db').resolve())
