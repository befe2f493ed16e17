"""Composition root: settings → logging → database (migrated) → Deps; used by the studio, the CLI and jobs."""

from __future__ import annotations

import logging

from app.backup_schedule import backup_settings
from app.migrate import upgrade
from app.settings import Settings
from models.db import make_engine, session_factory
from services.assets import AssetStore
from services.deps import Deps
from services.secrets import SecretStore, load_keyring

log = logging.getLogger(__name__)


def build_deps(settings: Settings) -> Deps:
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    keyring = load_keyring(
        env_key=settings.master_key.get_secret_value() if settings.master_key else None,
        key_file=settings.key_file,
        previous=settings.master_key_previous.get_secret_value() if settings.master_key_previous else None,
    )
    return Deps(
        data_dir=data_dir,
        sessions=session_factory(engine),
        store=AssetStore(data_dir),
        secrets=SecretStore(keyring),
        key_file=None if settings.master_key else settings.key_file,
        extras={'engine': engine, 'settings': settings, 'backup': backup_settings(settings)},
    )
