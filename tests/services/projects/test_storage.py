"""A project's storage root is its own: never the data dir, the database's folder or another project's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.project import ProjectCreate, StorageUpdate
from services.errors import Conflict, Invalid
from services.projects import projects
from services.projects.assets import AssetStore
from tests.services.projects.test_assets import png_bytes


@pytest.fixture
def two(sessions, data_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Projects 'moon' (files in the data dir) and 'sun' (its own root outside), each with one real image."""
    sun_root = tmp_path / 'elsewhere' / 'sun'
    sun_root.mkdir(parents=True)
    store = AssetStore(data_dir)
    with sessions() as s:
        moon = projects.create_project(s, ProjectCreate(slug='moon', name='Moon'), data_dir=data_dir)
        sun = projects.create_project(s, ProjectCreate(slug='sun', name='Sun'), data_dir=data_dir)
        sun = projects.update_storage(s, 'sun', StorageUpdate(storage_root=str(sun_root)), data_dir=data_dir)
        store.upload_many(s, moon, [('m.png', png_bytes((1, 2, 3)))])
        store.upload_many(s, sun, [('s.png', png_bytes((4, 5, 6)))])
    return data_dir / 'projects' / 'moon', sun_root


def refused(sessions, data_dir: Path, root: Path | str, db_path: Path | None = None) -> str:
    with sessions() as s, pytest.raises(Invalid) as err:
        projects.update_storage(s, 'moon', StorageUpdate(storage_root=str(root)), data_dir=data_dir, db_path=db_path)
    return err.value.user_message


def test_a_root_may_not_be_or_hold_what_it_does_not_own(sessions, data_dir: Path, two, tmp_path: Path) -> None:
    _, sun_root = two
    assert 'is or contains the data dir' in refused(sessions, data_dir, data_dir)
    assert 'is or contains the data dir' in refused(sessions, data_dir, data_dir.parent)
    (data_dir / 'inner').mkdir()
    assert 'inside the data dir' in refused(sessions, data_dir, data_dir / 'inner')
    assert 'overlaps the files of project "sun"' in refused(sessions, data_dir, sun_root)
    (sun_root / 'nested').mkdir()
    assert 'overlaps the files of project "sun"' in refused(sessions, data_dir, sun_root / 'nested')
    assert 'overlaps the files of project "sun"' in refused(sessions, data_dir, sun_root.parent)
    link = tmp_path / 'innocent-looking'
    link.symlink_to(data_dir)
    assert 'is or contains the data dir' in refused(sessions, data_dir, link)
    db_dir = tmp_path / 'db'
    db_dir.mkdir()
    assert "the database's folder" in refused(sessions, data_dir, db_dir, db_path=db_dir / 'kroma.db')


def test_existing_files_move_only_when_asked_and_arrive_intact(sessions, data_dir: Path, two, tmp_path: Path) -> None:
    moon_root, _ = two
    target = tmp_path / 'moon-new'
    target.mkdir()
    before = {p.relative_to(moon_root): p.read_bytes() for p in moon_root.rglob('*') if p.is_file()}
    with sessions() as s, pytest.raises(Conflict, match=r'has 2 file\(s\)'):
        projects.update_storage(s, 'moon', StorageUpdate(storage_root=str(target)), data_dir=data_dir)
    assert not any(target.iterdir())
    with sessions() as s:
        p = projects.update_storage(s, 'moon', StorageUpdate(storage_root=str(target)), data_dir=data_dir, move=True)
    assert p.storage_root == str(target.resolve())
    assert {p.relative_to(target): p.read_bytes() for p in target.rglob('*') if p.is_file()} == before
    assert not moon_root.exists()
    with sessions() as s:  # and back to the data dir
        p = projects.update_storage(s, 'moon', StorageUpdate(storage_root=''), data_dir=data_dir, move=True)
    assert p.storage_root is None and len([f for f in moon_root.rglob('*') if f.is_file()]) == 2


def test_deleting_a_project_removes_only_the_files_its_rows_name(sessions, data_dir: Path, two) -> None:
    _, sun_root = two
    keep = sun_root / 'my-notes.txt'
    keep.write_text('the artist put this here')
    (sun_root / 'assets' / 'sketch.png').write_bytes(png_bytes((9, 9, 9)))  # not a row of the project
    with sessions() as s:
        projects.delete_project(s, 'sun', confirm='sun', data_dir=data_dir)
    left = sorted(p.relative_to(sun_root).as_posix() for p in sun_root.rglob('*') if p.is_file())
    assert left == ['assets/sketch.png', 'my-notes.txt']
    assert not (sun_root / '.thumbs').exists()  # emptied folders go
    assert (data_dir / 'projects' / 'moon').exists() and (data_dir / 'kroma.db').exists()
