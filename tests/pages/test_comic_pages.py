"""J08 in the UI: a chapter and a page, an approved image in a slot, a balloon, the live preview, then export."""

from __future__ import annotations

import asyncio
import base64
import io

from nicegui.testing import User
from PIL import Image, ImageDraw
from sqlmodel import select

from models.base import AssetKind, ReviewState
from models.layout import Export, Panel
from models.project import ProjectCreate
from pages import comic_pages, dashboard, export, media
from services.layout import chapters
from services.projects import projects
from tests.services.layout.test_chapters import approved_demo


def art(sky: tuple[int, int, int] = (70, 110, 150)) -> bytes:
    im = Image.new('RGB', (480, 320), sky)
    ImageDraw.Draw(im).rectangle((160, 120, 320, 300), fill=(200, 80, 40))
    buf = io.BytesIO()
    im.save(buf, 'PNG')
    return buf.getvalue()


def crop_of(deps) -> dict:  # noqa: ANN001
    with deps.sessions() as s:
        return s.exec(select(Panel)).one().crop


async def wait_for(check, tries: int = 100) -> None:  # noqa: ANN001
    for _ in range(tries):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError('condition never became true')


async def test_lay_out_a_page_with_a_balloon_and_export_it(user: User, deps) -> None:
    with deps.sessions() as s:
        project = projects.create_project(
            s, ProjectCreate(slug='harbour', name='Harbour Tales'), data_dir=deps.data_dir
        )
        asset, _ = deps.store.ingest(
            s, project, art(), name='quay.png', kind=AssetKind.candidate, stage='style', status=ReviewState.approved
        )
        deps.store.ingest(s, project, art((30, 30, 30)), name='draft.png', kind=AssetKind.candidate, dedupe=False)
    for module in (media, dashboard, comic_pages, export):
        module.register(deps)
    await user.open('/projects/harbour')
    await user.open('/pages')
    await user.should_see('Pages · Harbour Tales')
    await user.should_see('Start with a chapter')

    user.find('chapter-title').elements.pop().value = 'The quay'
    user.find('chapter-create').click()
    await user.should_see(marker='page-add')
    user.find('page-template').elements.pop().value = 'two'
    user.find('page-add').click()
    await user.should_see(marker='slot-2')
    user.find('page-template').elements.pop().value = 'three'
    user.find('page-relayout').click()
    await user.should_see(marker='slot-3')
    assert len(user.find('gallery-item').elements) == 1  # the unapproved draft is not offered
    user.find('gallery-item').click()
    await user.should_see(marker='slot-clear')

    user.find('balloon-text').elements.pop().value = 'Ahoy there!'
    user.find('balloon-kind').elements.pop().value = 'caption'
    user.find('balloon-save').click()
    await user.should_see('1. caption · Ahoy there!')
    with deps.sessions() as s:
        (panel,) = s.exec(select(Panel)).all()
    assert panel.asset_id == asset.id and panel.slot == 0
    assert panel.balloons[0]['text'] == 'Ahoy there!' and panel.balloons[0]['kind'] == 'caption'

    user.find('crop-zoom').elements.pop().value = 2.0
    await wait_for(lambda: crop_of(deps)['zoom'] == 2.0)
    preview = user.find('page-preview').elements.pop()
    await wait_for(lambda: preview.source.startswith('data:image/jpeg;base64,'))
    with Image.open(io.BytesIO(base64.b64decode(preview.source.split(',', 1)[1]))) as im:
        assert im.width == 600 and im.height > im.width

    user.find('go-export').click()
    await user.should_see('Export · Harbour Tales')
    user.find('export-format').elements.pop().value = 'cbz'
    user.find('export-dpi').elements.pop().value = 72
    user.find('export-run').click()
    await user.should_see('Exported 1 page(s) as CBZ', retries=100)
    assert user.find('export-progress').elements.pop().value == 1.0
    await user.should_see(marker='export-row')
    with deps.sessions() as s:
        (row,) = s.exec(select(Export)).all()
    assert row.format == 'cbz' and (deps.store.root(project) / row.path).is_file()


async def test_an_untitled_chapter_is_named_and_new_pages_land_in_the_chosen_chapter(user: User, deps) -> None:
    from models.layout import Page

    with deps.sessions() as s:
        projects.create_project(s, ProjectCreate(slug='harbour', name='Harbour Tales'), data_dir=deps.data_dir)
    for module in (media, dashboard, comic_pages):
        module.register(deps)
    await user.open('/projects/harbour')
    await user.open('/pages')
    user.find('chapter-title').elements.pop().value = 'The quay'
    user.find('chapter-create').click()
    await user.should_see('Chapter 1 · The quay created')
    user.find('chapter-create').click()  # no title: allowed, and named so it is never a blank entry
    await user.should_see('Chapter 2 · untitled created')
    picker = user.find('chapter-select').elements.pop()
    assert sorted(picker.options.values()) == ['Chapter 1 · The quay', 'Chapter 2 · untitled']
    first = next(k for k, v in picker.options.items() if v.startswith('Chapter 1'))
    picker.value = first
    await user.should_see(marker='page-add')
    user.find('page-add').click()
    await user.should_see(marker='page-item')
    with deps.sessions() as s:
        (page,) = s.exec(select(Page)).all()
    assert page.chapter_id == first


async def test_auto_layout_shows_the_dry_run_then_fills_a_page(user: User, deps) -> None:
    demo, _ = await asyncio.to_thread(approved_demo, deps.sessions, deps.store)
    for module in (media, dashboard, comic_pages, export):
        module.register(deps)
    await user.open('/projects/demo')
    await user.open('/pages')
    await user.should_see('Start with a chapter')
    user.find('auto-layout').click()
    await user.should_see('Auto-layout chapter 1')
    await user.should_see('Page 1 · 3 × 1 grid: Launch pad, Café table, Night street')
    with deps.sessions() as s:
        assert chapters.list_chapters(s, demo.id) == []  # the dry run wrote nothing
    user.find('layout-confirm').click()
    await user.should_see(marker='slot-3')
    with deps.sessions() as s:
        (chapter,) = chapters.list_chapters(s, demo.id)
        (page,) = chapters.list_pages(s, demo.id, chapter.id)
    assert (page.template, page.grid, len(page.panels)) == ('grid', {'rows': 3, 'cols': 1}, 3)
    user.find('auto-layout').click()
    await user.should_see('Nothing to lay out')
    await user.should_see('Skipped Launch pad: already on page 1')
