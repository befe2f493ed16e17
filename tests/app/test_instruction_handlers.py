"""Copilot export and backup instructions run through the same services as the pages (wired in app/instruction_jobs.py)."""

from __future__ import annotations

import zipfile

import pytest

from app.instruction_jobs import backup_instruction, export_instruction
from services import chapters, projects
from services.assets import AssetStore
from services.demo import ensure_demo
from services.deps import Deps
from services.errors import Invalid
from tests.fakes.s3_server import S3Server


@pytest.fixture
def deps(sessions, data_dir) -> Deps:
    store = AssetStore(data_dir)
    ensure_demo(sessions, store)
    return Deps(data_dir=data_dir, sessions=sessions, store=store)


def test_export_instruction_writes_a_cbz(deps) -> None:
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        chapter = chapters.save_chapter(s, demo.id, title='One')
        chapters.save_page(s, demo.id, chapters.PageLayout(template='splash'), chapter_id=chapter.id)
    result = export_instruction(deps)(deps.sessions, demo, {'format': 'cbz', 'chapter': chapter.number})
    path = deps.store.root(demo) / result['path']
    assert len(result['sha256']) == 64 and 'ComicInfo.xml' in zipfile.ZipFile(path).namelist()


def test_backup_instruction_needs_a_bucket_then_backs_up(deps, monkeypatch) -> None:
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
    with pytest.raises(Invalid):
        backup_instruction(deps)(deps.sessions, demo, {})
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')
    with S3Server() as server:
        deps.extras['backup'] = {
            'endpoint_url': server.endpoint_url,
            'bucket': 'kroma-instr',
            'prefix': 'k',
            'region': 'us-east-1',
            'db_path': str(deps.data_dir / 'kroma.db'),
        }
        server.create_bucket('kroma-instr')
        result = backup_instruction(deps)(deps.sessions, demo, {})
    assert result['status'] == 'complete' and result['files'] > 0
