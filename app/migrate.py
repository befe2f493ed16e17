"""Alembic run programmatically, so `kroma studio` and every CLI command bring the database up to date."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / 'migrations'


def alembic_config(db_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option('script_location', str(MIGRATIONS))
    cfg.set_main_option('sqlalchemy.url', db_url)
    return cfg


def upgrade(db_url: str) -> None:
    command.upgrade(alembic_config(db_url), 'head')
