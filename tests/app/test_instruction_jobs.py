"""The studio's own instruction worker (the scheduler's job) runs a confirmed copilot card with what was asked."""

from __future__ import annotations

import re

from sqlmodel import select

from app.instruction_jobs import work_instructions
from app.settings import get_settings
from app.wiring import build_deps
from models.layout import ChapterCreate, Export, PageCreate
from services.copilot import chat as copilot
from services.copilot import instructions
from services.layout import chapters
from services.projects import projects
from services.projects.demo import ensure_demo


def test_export_chapter_1_as_pdf_through_the_studios_worker(home) -> None:
    deps = build_deps(get_settings())
    ensure_demo(deps.sessions, deps.store)
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        one = chapters.create_chapter(s, demo.id, ChapterCreate(title='One'))
        chapters.create_page(s, demo.id, PageCreate(chapter_id=one.id, template='splash'))
        two = chapters.create_chapter(s, demo.id, ChapterCreate(title='Two'))
        for _ in range(2):
            chapters.create_page(s, demo.id, PageCreate(chapter_id=two.id, template='two'))
        chat = copilot.create_session(s, demo.id)
        card = copilot.post_message(s, demo, chat.id, 'Export chapter 1 as PDF').instruction
        assert card is not None and card.objective == 'Export chapter 1 as PDF'
        instructions.confirm(s, demo.id, card.id)
    assert work_instructions(deps) == card.id
    with deps.sessions() as s:
        done = instructions.get_instruction(s, demo.id, card.id)
        assert done.state == 'done', done.last_error
        assert done.result['format'] == 'pdf' and done.result['chapter'] == 1
        export = s.exec(select(Export)).one()
        assert export.format == 'pdf' and export.chapter_id == one.id
    pdf = (deps.store.root(demo) / done.result['path']).read_bytes()
    pages = re.findall(rb'/Type\s*/Page(?!s)', pdf)
    assert pdf.startswith(b'%PDF') and len(pages) == 1  # chapter 1's one page, not all three pages
