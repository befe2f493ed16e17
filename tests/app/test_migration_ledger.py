"""Migration 0003 (#22) on a database with data: 'side' becomes 'profile', characters get version 1, indexes stay."""

from __future__ import annotations

import sqlite3

from alembic import command
from sqlmodel import Session, select

from app.migrate import alembic_config
from models.continuity import CharacterVersion
from models.db import make_engine
from models.references import CharacterReference
from services.references import character_versions


def test_upgrade_maps_side_to_profile_and_records_first_versions(tmp_path) -> None:
    url = f'sqlite:///{tmp_path / "old.db"}'
    command.upgrade(alembic_config(url), '0003')
    with sqlite3.connect(tmp_path / 'old.db') as db:
        db.execute(
            'INSERT INTO project (id, slug, name, description, status, budget_usd, batch_limit, settings, '
            "created_at, updated_at) VALUES ('p1', 'moon', 'Moon', '', 'active', 10, 10, '{}', "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
        db.execute(
            'INSERT INTO character (id, project_id, name, bible, palette, outfits, created_at, updated_at) VALUES '
            "('c1', 'p1', 'Hero', 'tall', '[\"#112233\"]', '[\"coat\"]', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
        db.execute(
            'INSERT INTO asset (id, project_id, kind, path, sha256, size_bytes, width, height, mime, original_name, '
            "tags, status, immutable, meta, created_at) VALUES ('a1', 'p1', 'character', 'x.png', 'abc', 1, 1, 1, "
            "'image/png', 'x.png', '[]', 'generated', 0, '{}', '2026-01-01 00:00:00')"
        )
        db.execute(
            'INSERT INTO characterreference (id, project_id, character_id, asset_id, angle, expression, outfit, '
            "face_encoding, created_at) VALUES ('r1', 'p1', 'c1', 'a1', 'side', '', 'coat', 'null', "
            "'2026-01-01 00:00:00')"
        )
    command.upgrade(alembic_config(url), 'head')
    engine = make_engine(url)
    with Session(engine) as s:
        ref = s.exec(select(CharacterReference)).one()
        assert (ref.angle, ref.shot, ref.choice) == ('profile', '', 'auto')
        (version,) = s.exec(select(CharacterVersion)).all()
        assert version.version == 1 and version.created_at.year >= 2026
        assert version.snapshot['bible'] == 'tall' and version.snapshot['references'][0]['angle'] == 'profile'
        assert character_versions.current_versions(s, ['c1']) == {'c1': 1}
    engine.dispose()
    names = {r[0] for r in sqlite3.connect(tmp_path / 'old.db').execute('select name from sqlite_master')}
    assert {'uq_character_name_ci', 'continuityevent', 'characterversion'} <= names
    command.downgrade(alembic_config(url), '0003')
    with sqlite3.connect(tmp_path / 'old.db') as db:
        assert db.execute('SELECT angle FROM characterreference').fetchall() == [('side',)]
        assert 'uq_character_name_ci' in {r[0] for r in db.execute('select name from sqlite_master')}
