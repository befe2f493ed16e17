"""The nightly backup as a persisted APScheduler cron job; its arguments are plain values the job store can pickle."""

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

from app.settings import get_settings
from app.wiring import secret_store
from models.db import make_engine, session_factory
from services.backups.config import is_configured, run_nightly
from services.backups.defaults import BackupDefaults
from services.deps import Deps
from services.errors import Invalid, KromaError
from services.security.audit import acting_as

log = logging.getLogger(__name__)

JOB_ID = 'backup-nightly'
JOBSTORE = 'persistent'
JOBS_TABLE = 'apscheduler_jobs'
MISFIRE_GRACE_S = 6 * 3600  # a laptop asleep at 03:00 still backs up when it wakes that morning


def add_backup_job(scheduler: BaseScheduler, deps: Deps, db_url: str) -> None:
    """Register (or update) the nightly backup in the persistent job store; skipped while no bucket is configured."""
    defaults = deps.backup
    with deps.sessions() as s:
        configured = is_configured(defaults, s)
    if not configured or defaults.db_path is None:
        why = (
            'set KROMA_BACKUP_S3_BUCKET (or a project S3 bucket) to enable them'
            if not configured
            else f'they need the SQLite database, not {make_url(db_url).drivername}'
        )
        log.info('scheduled backups are off: %s', why)
        _remove_stale_job(scheduler, db_url)
        return
    try:
        trigger = CronTrigger.from_crontab(defaults.cron)
    except ValueError as e:
        raise Invalid(f'KROMA_BACKUP_CRON "{defaults.cron}" is not a valid cron expression ({e}).') from e
    with contextlib.suppress(ValueError):  # build_scheduler(jobstore_url=...) already added it
        scheduler.add_jobstore(SQLAlchemyJobStore(url=db_url, tablename=JOBS_TABLE), JOBSTORE)
    key_file = str(deps.key_file) if deps.key_file else None
    scheduler.add_job(
        scheduled_backup,
        trigger,
        args=[str(deps.data_dir), db_url, defaults.target_fields()],
        kwargs={
            'db_path': str(defaults.db_path),
            'keep_daily': defaults.keep_daily,
            'keep_weekly': defaults.keep_weekly,
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
    log.info('backups scheduled (%s) to bucket %s', defaults.cron, defaults.bucket or 'of each project')


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
                defaults=BackupDefaults(**target_values),
                secrets=secret_store(get_settings(), Path(key_file) if key_file else None),
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
