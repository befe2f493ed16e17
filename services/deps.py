"""The collaborators every page, API route, CLI command and job receives, built once by app/wiring.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from models.db import SessionFactory
from services.backups.defaults import BackupDefaults
from services.projects.assets import AssetStore
from services.security.secrets import SecretStore


def _nothing() -> None:
    """A hook with no scheduler behind it (CLI, tests): the work is picked up by whoever drains the queue."""


@dataclass(frozen=True)
class WakeHooks:
    """Start a background worker now instead of at its next tick; the studio binds these to its scheduler."""

    runs: Callable[[], None] = _nothing
    instructions: Callable[[], None] = _nothing


@dataclass(frozen=True)
class StudioOptions:
    """The settings services and pages need, as plain values: nothing below app/ reads the environment."""

    host: str = '127.0.0.1'
    login_password: str | None = field(default=None, repr=False)
    agent_url: str | None = None
    scratch_max_age_hours: float = 24
    storage_roots: tuple[Path, ...] = ()  # folders the API may set as a project's storage root
    db_path: Path | None = None  # the SQLite file (None on another database): no storage root may hold it
    allow_link_local_urls: bool = False  # outbound URLs to link-local / metadata addresses (admin setting)
    run_lease_s: float = 30.0  # how long a worker's claim on a job lasts without renewal


@dataclass(frozen=True)
class Deps:
    data_dir: Path
    sessions: SessionFactory
    store: AssetStore
    secrets: SecretStore | None = None  # None only where no stored secret can be needed (some tests)
    key_file: Path | None = None  # the master key file, or None when the key comes from KROMA_MASTER_KEY
    engine: Engine | None = None
    options: StudioOptions = field(default_factory=StudioOptions)
    backup: BackupDefaults = field(default_factory=BackupDefaults)
    wake: WakeHooks = field(default_factory=WakeHooks)
