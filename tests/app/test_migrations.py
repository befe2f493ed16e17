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


def test_leases_and_call_stories_migrate_existing_rows(tmp_path) -> None:
    """A database with runs from before the job leases keeps them, and their candidates get an empty call story."""
    from alembic import command

    from app.migrate import alembic_config

    url = f'sqlite:///{tmp_path / "old.db"}'
    command.upgrade(alembic_config(url), '0001')
    now = '2026-11-20 10:00:00'
    with sqlite3.connect(tmp_path / 'old.db') as db:
        db.execute(
            'INSERT INTO project (id, name, description, slug, status, budget_usd, batch_limit, settings, created_at, '
            "updated_at) VALUES ('p', 'P', '', 'p', 'active', 5, 10, '{}', ?, ?)",
            (now, now),
        )
        db.execute(
            'INSERT INTO run (id, project_id, stage, mode, status, settings_snapshot, cost_estimate_usd, '
            "cost_actual_usd, error, log_path, created_at) VALUES ('r', 'p', 'style', 'run', 'running', '{}', 1, 0, "
            "'', '', ?)",
            (now,),
        )
        db.execute(
            "INSERT INTO job (id, project_id, run_id, 'index', status, prompt, inputs, params, cost_estimate_usd, "
            "claimed_by, error, created_at) VALUES ('j', 'p', 'r', 0, 'running', 'x', '[]', '{}', 1, 'h:1:x', '', ?)",
            (now,),
        )
        db.execute(
            "INSERT INTO candidate (id, project_id, run_id, job_id, 'index', seed, status, review_state, qa_summary, "
            "error, attempts, created_at) VALUES ('c', 'p', 'r', 'j', 0, 1, 'running', 'generated', '{}', '', 1, ?)",
            (now,),
        )
    upgrade(url)
    with sqlite3.connect(tmp_path / 'old.db') as db:
        assert db.execute('SELECT claimed_by, lease_expires_at FROM job').fetchall() == [('h:1:x', None)]
        assert db.execute('SELECT calls FROM candidate').fetchall() == [('[]',)]
