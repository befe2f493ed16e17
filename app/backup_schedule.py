"""The nightly backup as a persisted APScheduler cron job, plus the plain backup settings pages and jobs receive."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import make_url

from app.settings import Settings, get_settings
from models.db import make_engine, session_factory
from services.audit import acting_as
from services.backup_config import is_configured, run_nightly
from services.deps import Deps
from services.errors import Invalid, KromaError
from services.secrets import SecretStore, load_keyring

log = logging.getLogger(__name__)

JOB_ID = 'backup-nightly'
JOBSTORE = 'persistent'
JOBS_TABLE = 'apscheduler_jobs'
MISFIRE_GRACE_S = 6 * 3600  # a laptop asleep at 03:00 still backs up when it wakes that morning
TARGET_KEYS = ('endpoint_url', 'bucket', 'prefix', 'region')


def backup_settings(settings: Settings) -> dict[str, Any]:
    """Plain values (no secrets) for deps.extras['backup'], the job and the CLI: services never see Settings."""
    return {
        'endpoint_url': settings.backup_s3_endpoint_url,
        'bucket': settings.backup_s3_bucket,
        'prefix': settings.backup_s3_prefix,
        'region': settings.backup_s3_region,
        'cron': settings.backup_cron,
        'keep_daily': settings.backup_keep_daily,
        'keep_weekly': settings.backup_keep_weekly,
        'db_path': sqlite_path(settings.db_url),
    }


def sqlite_path(db_url: str) -> str | None:
    """The database file a snapshot copies; None when the studio does not run on a SQLite file."""
    url = make_url(db_url)
    if not url.drivername.startswith('sqlite') or url.database in (None, '', ':memory:'):
        return None
    return str(Path(url.database).expanduser().resolve())


def add_backup_job(scheduler: BaseScheduler, deps: Deps, settings: Settings) -> None:
    """Register (or update) the nightly backup in the persistent job store; skipped while no bucket is configured."""
    values = backup_settings(settings)
    with deps.sessions() as s:
        configured = is_configured(values, s)
    if not configured or values['db_path'] is None:
        why = (
            'set KROMA_BACKUP_S3_BUCKET (or a project S3 bucket) to enable them'
            if not configured
            else f'they need the SQLite database, not {make_url(settings.db_url).drivername}'
        )
        log.info('scheduled backups are off: %s', why)
        _remove_stale_job(scheduler, settings.db_url)
        return
    try:
        trigger = CronTrigger.from_crontab(settings.backup_cron)
    except ValueError as e:
        raise Invalid(f'KROMA_BACKUP_CRON "{settings.backup_cron}" is not a valid cron expression ({e}).') from e
    with contextlib.suppress(ValueError):  # build_scheduler(jobstore_url=...) already added it
        scheduler.add_jobstore(SQLAlchemyJobStore(url=settings.db_url, tablename=JOBS_TABLE), JOBSTORE)
    key_file = str(deps.key_file) if deps.key_file else None
    scheduler.add_job(
        scheduled_backup,
        trigger,
        args=[str(deps.data_dir), settings.db_url, {k: values[k] for k in TARGET_KEYS}],
        kwargs={
            'db_path': values['db_path'],
            'keep_daily': settings.backup_keep_daily,
            'keep_weekly': settings.backup_keep_weekly,
            'key_file': key_file,
        },
        id=JOB_ID,
        name='Nightly backup to S3',
        jobstore=JOBSTORE,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_S,
    )
    log.info('backups scheduled (%s) to bucket %s', settings.backup_cron, values['bucket'] or 'of each project')


def _remove_stale_job(scheduler: BaseScheduler, db_url: str) -> None:
    """A job persisted under an earlier configuration must not keep backing up after the bucket was removed."""
    store = SQLAlchemyJobStore(url=db_url, tablename=JOBS_TABLE)
    store.start(scheduler, JOBSTORE)
    try:
        store.remove_job(JOB_ID)
        log.info('removed the scheduled backup job left from an earlier configuration')
    except JobLookupError:
        pass
    finally:
        store.shutdown()


def scheduled_backup(
    data_dir_str: str,
    db_url: str,
    target_values: dict[str, Any],
    *,
    db_path: str,
    keep_daily: int,
    keep_weekly: int,
    key_file: str | None = None,
) -> list[dict[str, Any]]:
    """Job body with plain args (the job store pickles them); never receives a key, it loads the keyring itself."""
    engine = make_engine(db_url)
    try:
        with acting_as(f'job:{JOB_ID}'):
            results = run_nightly(
                session_factory(engine),
                data_dir=Path(data_dir_str),
                db_path=Path(db_path),
                settings_values=target_values,
                secrets=_secret_store(key_file),
                keep_daily=keep_daily,
                keep_weekly=keep_weekly,
            )
    except KromaError as e:  # the master key or stored credentials are unusable: an expected failure, not a bug
        log.warning('scheduled backup did not run: %s', e.user_message)
        return []
    finally:
        engine.dispose()
    for r in results:
        if r['ok']:
            log.info(
                'scheduled backup of %s: %s, %d bytes (%d uploaded) in %.1f s; %d expired snapshot(s)',
                r['scope'], r['snapshot_key'], r['size_bytes'], r['uploaded_bytes'], r['duration_s'], r['expired'],
            )  # fmt: skip
    if not results:
        log.info('scheduled backup: nothing to do (no bucket configured)')
    return results


def _secret_store(key_file: str | None) -> SecretStore:
    """The same keyring the studio uses: KROMA_MASTER_KEY from the environment, else the key file."""
    settings = get_settings()
    env_key = settings.master_key.get_secret_value() if settings.master_key else None
    previous = settings.master_key_previous.get_secret_value() if settings.master_key_previous else None
    path = Path(key_file) if key_file else settings.key_file
    return SecretStore(load_keyring(env_key=env_key, key_file=path, previous=previous))
