"""Composition root: settings → database (migrated) → one typed Deps for the studio, the CLI, the API and the jobs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.engine import Engine, make_url

from app.guard import MB, GuardLimits
from app.jobs import INSTRUCTION_WORKER, RUN_WORKER, wake
from app.migrate import upgrade
from app.settings import Settings
from models.db import SessionFactory, make_engine, session_factory
from services.backups.defaults import BackupDefaults
from services.deps import Deps, StudioOptions, WakeHooks
from services.projects.assets import AssetStore
from services.projects.file_backends import FilesConfig, normalize_files_url
from services.runs.wakeup import notify_runs
from services.security.file_modes import private_database, private_dir
from services.security.secrets import SecretStore, load_keyring, stored_key_refs

log = logging.getLogger(__name__)


def wake_runs(engine: Engine, scheduler: BaseScheduler | None) -> None:
    """Runs were queued: this studio's own worker starts now, and idle workers elsewhere hear it (PostgreSQL)."""
    if scheduler is not None:
        wake(scheduler, RUN_WORKER)
    notify_runs(engine)


def build_deps(
    settings: Settings, *, scheduler: BaseScheduler | None = None, allow_new_master_key: bool = False
) -> Deps:
    """Everything below app/ receives its collaborators from here; the scheduler, when given, backs the wake hooks.

    The data dir is made 0700 and a SQLite database 0600. A missing master key file is replaced only when no stored
    secret needs the old key (or, with `allow_new_master_key`, when the user gave the lost key up)."""
    data_dir = private_dir(settings.data_dir)
    db_path = sqlite_path(settings.db_url)
    if db_path is not None:
        private_database(db_path)
    upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    sessions = session_factory(engine)
    stored = None if allow_new_master_key else partial(_stored_refs, sessions)
    if db_path is not None:
        private_database(db_path)  # the WAL files SQLite made while migrating
    hooks = WakeHooks(runs=partial(wake_runs, engine, scheduler))
    if scheduler is not None:
        hooks = replace(hooks, instructions=partial(wake, scheduler, INSTRUCTION_WORKER))
    return Deps(
        data_dir=data_dir,
        sessions=sessions,
        store=AssetStore(data_dir, files_config(settings)),
        secrets=secret_store(settings, stored_refs=stored),
        key_file=None if settings.master_key else settings.key_file,
        engine=engine,
        options=studio_options(settings),
        backup=backup_defaults(settings),
        wake=hooks,
    )


def files_config(settings: Settings) -> FilesConfig:
    """KROMA_FILES_*: where projects keep their files unless they say otherwise (checked at start-up)."""
    return FilesConfig(
        default_url=normalize_files_url(settings.files_url),
        endpoint_url=settings.files_s3_endpoint_url,
        region=settings.files_s3_region,
    )


def secret_store(
    settings: Settings, key_file: Path | None = None, *, stored_refs: Callable[[], dict[str, int]] | None = None
) -> SecretStore:
    """The keyring from KROMA_MASTER_KEY, else the key file (created 0600 on first use), plus previous keys.

    With `stored_refs`, a missing key file is not replaced while stored secrets still need the lost key."""
    keyring = load_keyring(
        env_key=settings.master_key.get_secret_value() if settings.master_key else None,
        key_file=key_file or settings.key_file,
        previous=settings.master_key_previous.get_secret_value() if settings.master_key_previous else None,
        stored_refs=stored_refs,
    )
    return SecretStore(keyring)


def _stored_refs(sessions: SessionFactory) -> dict[str, int]:
    with sessions() as s:
        return stored_key_refs(s)


def guard_limits(settings: Settings) -> GuardLimits:
    """Host names the studio answers (loopback, the bound name, KROMA_ALLOWED_HOSTS) and the request body limits."""
    bound = () if settings.host in ('0.0.0.0', '::', '') else (settings.host,)
    return GuardLimits(
        extra_hosts=(*bound, *settings.allowed_hosts),
        max_json_bytes=int(settings.max_json_mb * MB),
        max_request_bytes=int(settings.max_request_mb * MB),
        body_stall_s=settings.body_stall_s,
    )


def studio_options(settings: Settings) -> StudioOptions:
    password = settings.login_password.get_secret_value().strip() if settings.login_password else ''
    return StudioOptions(
        host=settings.host,
        login_password=password or None,
        agent_url=settings.agent_api_url,
        scratch_max_age_hours=settings.scratch_max_age_hours,
        storage_roots=tuple(p.expanduser().resolve() for p in settings.storage_roots),
        db_path=sqlite_path(settings.db_url),
        allow_link_local_urls=settings.allow_link_local_urls,
        run_lease_s=settings.run_lease_s,
    )


def backup_defaults(settings: Settings) -> BackupDefaults:
    """KROMA_BACKUP_* as plain values: services never see Settings."""
    return BackupDefaults(
        bucket=settings.backup_s3_bucket,
        prefix=settings.backup_s3_prefix,
        endpoint_url=settings.backup_s3_endpoint_url,
        region=settings.backup_s3_region,
        cron=settings.backup_cron,
        keep_daily=settings.backup_keep_daily,
        keep_weekly=settings.backup_keep_weekly,
        db_path=sqlite_path(settings.db_url),
        database=make_url(settings.db_url).get_backend_name(),
    )


def sqlite_path(db_url: str) -> Path | None:
    """The database file a snapshot copies; None when the studio does not run on a SQLite file."""
    url = make_url(db_url)
    if not url.drivername.startswith('sqlite') or url.database in (None, '', ':memory:'):
        return None
    return Path(url.database).expanduser().resolve()
