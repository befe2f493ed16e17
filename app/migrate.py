"""Alembic run programmatically, so `kroma studio` and every CLI command bring the database up to date.

A database already at the head revision is the common case at start-up; it is recognised from the revision ids
in `migrations/versions` and the `alembic_version` row, without importing Alembic (~0.3 s of start-up)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / 'migrations'
_REVISION = re.compile(r'^revision\s*(?::\s*str\s*)?=\s*[\'"]([^\'"]+)[\'"]', re.M)
MIGRATION_LOCK = 0x6B726F6D61  # 'kroma': the advisory lock key of migrations
_DOWN = re.compile(r'^down_revision\s*(?::[^=]*)?=\s*(.+)$', re.M)


def alembic_config(db_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option('script_location', str(MIGRATIONS))
    cfg.set_main_option('sqlalchemy.url', db_url)
    return cfg


def script_heads() -> set[str]:
    """Head revisions of our migration scripts: revisions no other script revises."""
    revisions, revised = set(), set()
    for path in (MIGRATIONS / 'versions').glob('*.py'):
        source = path.read_text(encoding='utf-8')
        if found := _REVISION.search(source):
            revisions.add(found.group(1))
        if down := _DOWN.search(source):
            revised |= set(re.findall(r'[\'"]([^\'"]+)[\'"]', down.group(1)))
    return revisions - revised


def database_revisions(db_url: str) -> set[str]:
    """What `alembic_version` says; empty for a new database."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text('SELECT version_num FROM alembic_version'))}
    except SQLAlchemyError:
        return set()
    finally:
        engine.dispose()


def upgrade(db_url: str) -> None:
    if database_revisions(db_url) == script_heads():
        return
    from alembic import command

    with _one_at_a_time(db_url):
        if database_revisions(db_url) != script_heads():  # another process may have done it while this one waited
            command.upgrade(alembic_config(db_url), 'head')


@contextmanager
def _one_at_a_time(db_url: str) -> Iterator[None]:
    """A studio and its workers starting together on a new PostgreSQL database migrate it once: the others wait on
    an advisory lock, then find it at head (SQLite's own write lock serializes its migrations)."""
    if not db_url.startswith('postgresql'):
        yield
        return
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text('SELECT pg_advisory_lock(:key)'), {'key': MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text('SELECT pg_advisory_unlock(:key)'), {'key': MIGRATION_LOCK})
    finally:
        engine.dispose()
