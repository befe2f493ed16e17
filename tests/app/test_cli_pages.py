"""`kroma pages`: the book printed, auto-layout (dry first), chapters, pages, panels and balloons without the mouse."""

from __future__ import annotations

from pathlib import Path

from app.settings import get_settings
from app.wiring import build_deps
from services.layout import chapters
from services.projects import projects
from services.review import decisions as review
from tests.app.test_cli_review import kroma
from tests.services.layout.test_chapters import approved_demo


def demo_with_approved_panels() -> list[str]:
    """The demo after a style run with each scene's first candidate approved: the approved asset ids in scene order."""
    get_settings.cache_clear()
    deps = build_deps(get_settings())
    demo, run_id = approved_demo(deps.sessions, deps.store)
    with deps.sessions() as s:
        ids = [j.candidates[0].asset.id for j in review.run_review(s, demo.id, run_id)]
    deps.engine.dispose()
    return ids


def book() -> list:
    get_settings.cache_clear()
    deps = build_deps(get_settings())
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        out = [(c.number, c.title, chapters.list_pages(s, demo.id, c.id)) for c in chapters.list_chapters(s, demo.id)]
    deps.engine.dispose()
    return out


def test_layout_is_dry_first_then_fills_pages_in_scene_order(home: Path) -> None:
    ids = demo_with_approved_panels()
    assert 'has no chapters yet' in kroma('pages', 'demo')
    dry = kroma('pages', 'layout', 'demo', '--chapter', '1', '--template', 'two', '--dry-run')
    assert dry.strip().endswith('would add 2 page(s) with 3 panel(s) (dry run)') and book() == []
    assert 'page 1: two' in dry and 'page 2: splash' in dry
    done = kroma('pages', 'layout', 'demo', '--chapter', '1', '--template', 'two')
    assert done.strip().endswith('added 2 page(s) with 3 panel(s)')
    (number, _title, pages), = book()  # fmt: skip
    assert [p.asset_id for page in pages for p in page.panels] == ids and [p.template for p in pages] == [
        'two',
        'splash',
    ]
    listing = kroma('pages', 'demo')
    assert listing.startswith('chapter 1  2 page(s)') and f'panel 1: Launch pad (style) asset {ids[0]}' in listing
    again = kroma('pages', 'layout', 'demo')
    assert again.count('already on page') == 3 and 'added 0 page(s)' in again


def test_chapters_pages_panels_and_balloons(home: Path) -> None:
    ids = demo_with_approved_panels()
    kroma('pages', 'chapter', 'add', 'demo', '--title', 'Dusk')
    kroma('pages', 'chapter', 'add', 'demo', '--title', 'Dawn')
    kroma('pages', 'chapter', 'rename', 'demo', '2', '--title', 'Dawn again', '--writer', 'Ann')
    kroma('pages', 'chapter', 'reorder', 'demo', '2', '1')
    assert [(n, t) for n, t, _ in book()] == [(1, 'Dawn again'), (2, 'Dusk')]
    kroma('pages', 'page', 'add', 'demo', '--chapter', '1', '--template', 'four')
    kroma('pages', 'page', 'add', 'demo', '--chapter', '1', '--template', 'grid', '--rows', '2', '--cols', '1')
    kroma('pages', 'panel', 'place', 'demo', ids[0], '--page', '1', '--panel', '2', '--zoom', '2', '--x', '0.3')
    kroma('pages', 'balloon', 'add', 'demo', '--page', '1', '--panel', '2', '--text', 'Hello', '--tail', 'left')
    kroma(
        'pages', 'balloon', 'add', 'demo', '--page', '1', '--panel', '2', '--text', 'Night fell.', '--kind', 'caption'
    )
    kroma('pages', 'balloon', 'edit', 'demo', '--page', '1', '--panel', '2', '--index', '1', '--text', 'Hi!')
    kroma('pages', 'balloon', 'remove', 'demo', '--page', '1', '--panel', '2', '--index', '2')
    kroma('pages', 'page', 'move', 'demo', '--page', '1', '--to', '2')
    (_, _, pages), _ = book()
    assert [p.template for p in pages] == ['grid', 'four']
    (panel,) = pages[1].panels
    assert (panel.slot, panel.asset_id, panel.crop) == (1, ids[0], {'zoom': 2.0, 'x': 0.3, 'y': 0.5})
    assert [(b['text'], b['tail'], b['kind']) for b in panel.balloons] == [('Hi!', 'left', 'speech')]
    kroma('pages', 'page', 'template', 'demo', '--page', '2', '--template', 'two')
    err = kroma('pages', 'page', 'template', 'demo', '--page', '2', '--template', 'splash', code=1)
    assert err == 'error: Panel 2 is filled; clear it before switching to a layout with 1 panels.\n'
    kroma('pages', 'panel', 'clear', 'demo', '--page', '2', '--panel', '2')
    kroma('pages', 'page', 'delete', 'demo', '--page', '1')
    kroma('pages', 'chapter', 'delete', 'demo', '2')
    (number, _, pages), = book()  # fmt: skip
    assert number == 1 and [(p.number, p.template, p.panels) for p in pages] == [(1, 'two', ())]


def test_bad_input_is_one_line(home: Path) -> None:
    demo_with_approved_panels()
    kroma('pages', 'chapter', 'add', 'demo')
    assert kroma('pages', 'layout', 'demo', '--template', 'seven', code=1).startswith(
        "error: Unknown page template 'seven'"
    )
    assert kroma('pages', 'page', 'delete', 'demo', '--page', '3', code=1) == (
        'error: Chapter 1 has 0 page(s); there is no page 3.\n'
    )
    kroma('pages', 'page', 'add', 'demo')
    assert kroma('pages', 'balloon', 'add', 'demo', '--x', '2', '--text', 'x', code=1).startswith('error: Balloon 1 x:')
    assert kroma('pages', 'balloon', 'add', 'demo', code=1).startswith('error: Balloon 1 text:')
    assert kroma('pages', 'panel', 'crop', 'demo', '--zoom', '9', code=1).startswith('error: Panel 1 crop zoom:')
    assert kroma('pages', 'panel', 'place', 'demo', 'f' * 32, code=1).startswith('error: ')
    assert kroma('pages', 'chapter', 'reorder', 'demo', '1', '1', code=1).startswith('error: The new order must list')
