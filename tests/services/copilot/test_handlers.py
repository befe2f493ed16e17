"""Copilot export and backup instructions run through the one handler table, with what the artist asked for."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import pytest

from models.layout import ChapterCreate, PageCreate
from services.backups.defaults import BackupDefaults
from services.copilot.handlers import handler_table
from services.deps import Deps
from services.errors import Invalid
from services.layout import chapters
from services.projects import projects
from services.projects.assets import AssetStore
from services.projects.demo import ensure_demo
from tests.fakes.s3_server import S3Server
from tests.services.layout.test_chapters import approved_demo


@pytest.fixture
def deps(sessions, data_dir) -> Deps:
    store = AssetStore(data_dir)
    ensure_demo(sessions, store)
    return Deps(data_dir=data_dir, sessions=sessions, store=store)


def test_export_instruction_writes_the_format_and_chapter_asked_for(deps) -> None:
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        one = chapters.create_chapter(s, demo.id, ChapterCreate(title='One'))
        chapters.create_page(s, demo.id, PageCreate(chapter_id=one.id, template='splash'))
        two = chapters.create_chapter(s, demo.id, ChapterCreate(title='Two'))
        chapters.create_page(s, demo.id, PageCreate(chapter_id=two.id, template='splash'))
    export = handler_table(deps)['export']
    result = export(deps.sessions, demo, {'inputs': {'format': 'pdf', 'chapter': one.number}})
    path = deps.store.root(demo) / result['path']
    assert result['format'] == 'pdf' and result['chapter'] == one.number
    assert (
        path.suffix == '.pdf' and path.read_bytes().startswith(b'%PDF') and path.read_bytes().count(b'/Type /Page') >= 1
    )
    result = export(deps.sessions, demo, {'inputs': {'format': 'cbz', 'chapter': None}})
    assert 'ComicInfo.xml' in zipfile.ZipFile(deps.store.root(demo) / result['path']).namelist()


def test_backup_instruction_needs_a_bucket_then_backs_up(deps, monkeypatch) -> None:
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
    with pytest.raises(Invalid):
        handler_table(deps)['backup'](deps.sessions, demo, {})
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')
    with S3Server() as server:
        defaults = BackupDefaults(
            endpoint_url=server.endpoint_url, bucket='kroma-instr', prefix='k', db_path=deps.data_dir / 'kroma.db'
        )
        server.create_bucket('kroma-instr')
        result = handler_table(replace(deps, backup=defaults))['backup'](deps.sessions, demo, {})
    assert result['status'] == 'complete' and result['files'] > 0


def test_layout_instruction_fills_new_pages_like_the_page_editor(deps) -> None:
    demo, _ = approved_demo(deps.sessions, deps.store, scenes=2)
    layout = handler_table(deps)['layout']
    result = layout(deps.sessions, demo, {'inputs': {'chapter': 1, 'template': 'two', 'stage': 'style'}})
    assert (
        result['panels'] == 2 and result['message'] == 'Chapter 1: 1 new page(s) with 2 panel(s), 1 scene(s) skipped.'
    )
    with deps.sessions() as s:
        (chapter,) = chapters.list_chapters(s, demo.id)
        (page,) = chapters.list_pages(s, demo.id, chapter.id)
    assert page.id == result['page_ids'][0] and page.template == 'two' and len(page.panels) == 2
    with pytest.raises(Invalid, match='Unknown page template'):
        layout(deps.sessions, demo, {'inputs': {'chapter': 1, 'template': 'nine'}})
