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


def test_start_up_knows_the_head_without_alembic(tmp_path, monkeypatch) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config, database_revisions, script_heads

    url = f'sqlite:///{tmp_path / "h.db"}'
    assert script_heads() == set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    assert database_revisions(url) == set()
    upgrade(url)
    assert database_revisions(url) == script_heads()

    def must_not_run(*a, **k) -> None:
        raise AssertionError('an up-to-date database must not run Alembic')

    monkeypatch.setattr(command, 'upgrade', must_not_run)
    upgrade(url)  # at head: nothing to do
    with sqlite3.connect(tmp_path / 'h.db') as db:
        db.execute("UPDATE alembic_version SET version_num = 'older'")
    with_called = []
    monkeypatch.setattr(command, 'upgrade', lambda cfg, rev: with_called.append(rev))
    upgrade(url)
    assert with_called == ['head']  # behind: Alembic runs
