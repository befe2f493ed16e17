"""A migrated empty database matches the models exactly (columns, types, indexes, constraints)."""

from __future__ import annotations

import sqlite3
import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from app.migrate import upgrade
from models.db import make_engine


def test_migrated_database_matches_models(tmp_path) -> None:
    url = f'sqlite:///{tmp_path / "m.db"}'
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*expression-based index')  # checked by name below
        diff = compare_metadata(MigrationContext.configure(conn, opts={'render_as_batch': True}), SQLModel.metadata)
    engine.dispose()
    assert diff == []
    names = {
        r[0] for r in sqlite3.connect(tmp_path / 'm.db').execute("select name from sqlite_master where type='index'")
    }
    assert {'uq_character_name_ci', 'uq_scene_name_ci', 'uq_styleguide_name_ci', 'uq_referenceset_name_ci'} <= names


def test_sqlite_pragmas(tmp_path) -> None:
    engine = make_engine(f'sqlite:///{tmp_path / "p.db"}')
    with engine.connect() as conn:
        assert conn.exec_driver_sql('PRAGMA journal_mode').scalar() == 'wal'
        assert conn.exec_driver_sql('PRAGMA foreign_keys').scalar() == 1
        assert conn.exec_driver_sql('PRAGMA busy_timeout').scalar() == 30000
    engine.dispose()
