"""One revision history for both databases: on a real PostgreSQL the migrations build exactly the models' schema,
go down and up again, and the types behave as on SQLite (JSON, aware UTC timestamps, names unique ignoring case)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from app.migrate import alembic_config, database_revisions, script_heads, upgrade
from models.db import make_engine
from models.project import Project
from models.references import Character


def test_migrations_build_the_models_schema_and_go_down_and_up(pg_cluster) -> None:
    url = pg_cluster.new_database(migrated=False)
    cfg = alembic_config(url)
    command.upgrade(cfg, 'head')
    command.downgrade(cfg, 'base')  # enum types go with their tables, so the way up works again
    command.upgrade(cfg, 'head')
    assert database_revisions(url) == script_heads()
    engine = make_engine(url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        indexes = {r[0] for r in conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'uq_%_ci'"))}
        kinds = dict(
            conn.execute(
                text("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'job'")
            ).all()
        )
    engine.dispose()
    pg_cluster.drop_database(url)
    assert {'uq_character_name_ci', 'uq_scene_name_ci', 'uq_styleguide_name_ci', 'uq_referenceset_name_ci'} <= indexes
    assert kinds['lease_expires_at'] == 'timestamp with time zone' and kinds['inputs'] == 'json'


@pytest.mark.both_databases
def test_types_behave_the_same(sessions) -> None:
    """JSON comes back as written, an aware time in any zone comes back as the same instant in UTC, and a name that
    differs only by case is refused by the database itself."""
    paris = timezone(timedelta(hours=1))
    when = datetime(2026, 12, 1, 10, 30, tzinfo=paris)
    with sessions() as s:
        s.add(
            Project(
                id='p', slug='p', name='P', settings={'nested': {'list': [1, 'two', None]}, 'é': True}, created_at=when
            )
        )
    with sessions() as s:
        row = s.get(Project, 'p')
        assert row.settings == {'nested': {'list': [1, 'two', None]}, 'é': True}
        assert row.created_at == when and row.created_at.tzinfo == UTC and row.created_at.hour == 9
        s.add(Character(project_id='p', name='Hero'))
    with pytest.raises(IntegrityError), sessions() as s:
        s.add(Character(project_id='p', name='hERO'))


def test_processes_starting_together_migrate_a_new_database_once(pg_cluster) -> None:
    """A studio and its workers started at once on an empty database: one migrates, the others wait and find it done."""
    url = pg_cluster.new_database(migrated=False)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            upgrade(url)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and database_revisions(url) == script_heads()
    pg_cluster.drop_database(url)


def test_the_scheduler_keeps_its_jobs_in_postgresql(pg_cluster) -> None:
    from app.jobs import new_scheduler

    url = pg_cluster.new_database()
    scheduler = new_scheduler(jobstore_url=url)
    scheduler.start(paused=True)
    try:
        scheduler.add_job(print, 'interval', hours=1, id='nightly', jobstore='persistent', replace_existing=True)
    finally:
        scheduler.shutdown(wait=False)
    again = new_scheduler(jobstore_url=url)
    again.start(paused=True)
    try:
        assert [j.id for j in again.get_jobs(jobstore='persistent')] == ['nightly']  # survived the restart
    finally:
        again.shutdown(wait=False)
    pg_cluster.drop_database(url)
