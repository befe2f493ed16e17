"""The artist's journey in real Chromium against the real `kroma studio` process, from an empty data dir to a
verified CBZ and PDF. It fails on any browser console error, page error, ERROR line in the studio log, and any
archived output the artist did not cause. Screenshots go to tests/artifacts/ (not committed)."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from services.exports.exporter import DEFAULT_DPI
from services.exports.packages import verify_package
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

BOOTSTRAP = {
    'style_guides': [{'name': 'Harbour ink', 'rules': 'Bold ink outlines, flat tones.', 'palette': ['#1d2a3a', '#4a6a8a', '#c8b890', '#f0e8d8']}],
    'scenes': [
        {'name': 'Quay', 'description': 'Fishing boats at the quay', 'chapter': 1, 'reference_image': 'quay.png',
         'continuity': {'time': 'day', 'weather': 'clear', 'props': ['boat']}},
        {'name': 'Alley', 'description': 'A narrow alley behind the fish market', 'chapter': 1,
         'reference_image': 'alley.png', 'continuity': {'time': 'night', 'weather': 'clear'}},
    ],
}  # fmt: skip


def shot(page, name: str) -> None:  # noqa: ANN001
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def scene_png(path: Path, sky: tuple[int, int, int], ground: tuple[int, int, int]) -> Path:
    """A landscape scene reference with real structure (horizon, buildings, a boat) for QA to measure."""
    im = Image.new('RGB', (960, 640), sky)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 400, 960, 640), fill=ground)
    for i, x in enumerate(range(40, 900, 140)):
        d.rectangle((x, 220 - 20 * (i % 3), x + 100, 400), fill=(90 + 20 * i, 70, 60), outline=(20, 20, 20), width=4)
        d.rectangle((x + 30, 260, x + 60, 300), fill=(230, 210, 120))
    d.polygon([(300, 470), (620, 470), (560, 540), (360, 540)], fill=(150, 40, 30), outline=(10, 10, 10))
    d.line((460, 470, 460, 330), fill=(30, 30, 30), width=6)
    im.save(path)
    return path


def choose(page, label: str, option: str) -> None:  # noqa: ANN001
    """Pick an option of a Quasar select by its label."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role('option', name=option, exact=True).click()


def press(page, key: str) -> None:  # noqa: ANN001
    page.get_by_text('Keys: ←/→ move').click()  # focus on the page, not in a text field
    page.keyboard.press(key)


def db_rows(studio, sql: str) -> list[tuple]:  # noqa: ANN001
    with sqlite3.connect(studio.home / 'kroma.db') as db:
        return db.execute(sql).fetchall()


def test_journey(studio, browser_page, tmp_path: Path) -> None:
    page = browser_page
    problems: list[str] = []
    page.on('console', lambda m: problems.append(f'console {m.type}: {m.text}') if m.type == 'error' else None)
    page.on('pageerror', lambda e: problems.append(f'page error: {e}'))

    # J00 setup: the built-in offline renderer is there with no keys
    page.goto(studio.url + '/setup')
    page.get_by_text('Offline renderer').first.wait_for()
    shot(page, '01-setup.png')

    # J01 a new project: the slug follows the name as it is typed
    page.goto(studio.url + '/')
    page.get_by_role('button', name='New project').click()
    page.get_by_label('Name', exact=True).fill('Harbour Tales')
    expect(page.get_by_label('Slug')).to_have_value('harbour-tales')
    page.get_by_role('button', name='Create').click()
    page.get_by_text('Project harbour-tales created').wait_for()
    page.goto(studio.url + '/projects/harbour-tales')
    page.get_by_text('Latest images (0 in all)').wait_for()
    shot(page, '02-project.png')

    # J02 references: two scene images upload; a text file is refused with its reason and no check mark
    files = [scene_png(tmp_path / 'quay.png', (150, 190, 220), (70, 90, 110))]
    files.append(scene_png(tmp_path / 'alley.png', (120, 130, 160), (60, 55, 50)))
    (tmp_path / 'notes.txt').write_text('not an image')
    page.goto(studio.url + '/references')
    page.locator('input[type=file]').set_input_files([*files, tmp_path / 'notes.txt'])
    page.get_by_text('2 accepted, 0 duplicate, 1 refused').first.wait_for()
    refused = page.locator('.q-item, div').filter(has_text=re.compile(r'^notes\.txt: refused')).last
    refused.wait_for()
    shot(page, '03-references.png')
    assert page.locator('.q-uploader__file--uploaded').count() == 0  # no ✓ left on any file, the refused one included
    page.locator('.q-card').filter(has_text='quay.png').click()
    page.get_by_text('reference (uploaded)').first.wait_for()  # an uploaded reference is not called "generated"
    page.keyboard.press('Escape')

    # J03 bootstrap: preview shows the diff, then import
    page.goto(studio.url + '/bootstrap')
    page.get_by_label(re.compile('chatbot.s answer')).fill(json.dumps(BOOTSTRAP))
    page.get_by_role('button', name='Preview (dry run)').click()
    page.get_by_text('Dry run: nothing written.').wait_for()
    page.get_by_text(re.compile(r'\+ Quay')).first.wait_for()
    shot(page, '04-bootstrap-diff.png')
    page.get_by_role('button', name='Import').click()
    page.get_by_text('Imported').first.wait_for()

    # J04 style run: plan with no calls is a plan with its cost; start it in one click
    page.goto(studio.url + '/runs')
    page.get_by_label('Candidates per scene').fill('2')
    page.get_by_role('button', name='Plan (no calls)').click()
    page.get_by_text('This is a plan: nothing has been generated or paid yet.').wait_for()
    page.get_by_text('estimated cost: free (offline renderer)').wait_for()
    shot(page, '05-plan.png')
    page.get_by_role('button', name='Start this plan').click()
    page.get_by_text('4/4 candidates').wait_for(timeout=90_000)
    shot(page, '06-style-done.png')

    # J04 review with keys: approve the pre-selected best of each scene
    page.get_by_role('button', name='Review').click()
    page.get_by_text('Keys: ←/→ move').wait_for()
    press(page, 'a')
    page.get_by_text('Quay: candidate').first.wait_for()
    press(page, 'ArrowDown')
    press(page, 'a')
    page.get_by_text('Alley: candidate').first.wait_for()
    page.get_by_text('APPROVED').nth(1).wait_for()
    shot(page, '07-review.png')

    # J05 time stage: each scene keeps its own time unless the artist says otherwise
    page.goto(studio.url + '/runs')
    choose(page, 'Stage', 'time')
    page.get_by_text('Time per scene').wait_for()
    page.get_by_text('→ day (its own)').wait_for()
    page.get_by_text('→ night (its own)').wait_for()
    page.get_by_label('Candidates per scene').fill('1')
    shot(page, '08-time-targets.png')
    page.get_by_role('button', name='Start run').click()
    page.get_by_text('2/2 candidates').wait_for(timeout=90_000)
    times = db_rows(studio, "SELECT json_extract(params, '$.scene'), json_extract(params, '$.time') FROM job "
                    "JOIN run ON run.id = job.run_id WHERE run.stage = 'time' ORDER BY job.\"index\"")  # fmt: skip
    assert times == [('Quay', 'day'), ('Alley', 'night')]

    # J07 post-process with the defaults: scene panels keep their background; nothing is archived
    page.goto(studio.url + '/postprocess')
    page.get_by_text('Post-process · Harbour Tales').wait_for()
    expect(page.get_by_role('checkbox', name='Remove background from every chosen image')).not_to_be_checked()
    page.locator('.q-card.cursor-pointer').first.click()
    page.locator('.q-card.cursor-pointer').nth(1).click()
    page.get_by_role('button', name='Run').click()
    page.get_by_text(re.compile(r'Done: 4 output\(s\), 0 archived, 0 failed')).wait_for(timeout=60_000)
    page.get_by_text('Nothing archived').wait_for()
    shot(page, '09-postprocess.png')

    # J08 a page with a balloon
    page.goto(studio.url + '/pages')
    page.get_by_label('New chapter title').fill('Arrival')
    page.get_by_role('button', name='New chapter').click()
    page.get_by_text('Chapter 1 · Arrival created').wait_for()
    page.get_by_role('button', name='Add page').click()
    page.get_by_text('Panel 1: click an approved image to place it').wait_for()
    processed = page.locator('.q-scrollarea .q-card.cursor-pointer').filter(has_text=re.compile(r'-upscale-color\.png'))
    processed.first.click()  # a post-process output reaches Pages and is placed
    page.get_by_role('button', name='Clear panel').wait_for()
    page.get_by_label('Text', exact=True).fill('Ahoy! Fish for sale \U0001f41f')
    page.get_by_role('button', name=re.compile('Add balloon')).click()
    page.get_by_text(re.compile(r'1\. speech · Ahoy!')).wait_for()
    shot(page, '10-page.png')

    # J08 export CBZ and PDF, download both, verify
    for fmt in ('CBZ', 'PDF'):
        page.goto(studio.url + '/export')
        page.get_by_role('button', name=re.compile(f'^{fmt} \\(')).click()
        page.get_by_role('button', name='Export', exact=True).click()
        page.get_by_text(f'Exported 1 page(s) as {fmt}').wait_for(timeout=60_000)
        with page.expect_download() as download:
            page.get_by_role('link', name='Download').first.click(modifiers=['Alt'])
        target = tmp_path / f'comic.{fmt.lower()}'
        download.value.save_as(target)
        if fmt == 'CBZ':
            assert verify_package(target).ok
            with zipfile.ZipFile(target) as zf:
                assert 'ComicInfo.xml' in zf.namelist()
                with Image.open(io.BytesIO(zf.read('001.png'))) as im:
                    assert round(im.info['dpi'][0]) == DEFAULT_DPI  # the page image carries its DPI
        else:
            assert target.read_bytes().startswith(b'%PDF')
    shot(page, '11-export.png')

    # the copilot exports what was asked, through the studio's own instruction worker
    page.goto(studio.url + '/copilot')
    page.get_by_placeholder('e.g. style lock scenes').fill('Export chapter 1 as PDF')
    page.get_by_role('button', name='Send').click()
    page.get_by_text('Export chapter 1 as PDF').last.wait_for()
    page.get_by_role('button', name='Confirm').click()
    page.get_by_text(re.compile(r'PDF of chapter 1 written')).wait_for(timeout=30_000)
    shot(page, '12-copilot-export.png')
    exports = db_rows(studio, 'SELECT format, chapter_id IS NOT NULL FROM export ORDER BY created_at')
    assert exports == [('cbz', 0), ('pdf', 0), ('pdf', 1)]  # the copilot's: a PDF of chapter 1, not a CBZ of all

    archived = db_rows(studio, "SELECT kind, original_name FROM asset WHERE status = 'archived'")
    assert archived == [], f'outputs archived that the artist did not cause: {archived}'
    errors = [line for line in studio.log.read_text().splitlines() if ' ERROR ' in line]
    assert errors == [], errors
    assert problems == [], problems
