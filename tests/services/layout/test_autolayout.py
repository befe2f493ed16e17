"""Auto-layout: approved panels in scene order, templates that fit their shapes, hand-placed panels left alone."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.assets import Asset
from models.base import ReviewState
from models.layout import ChapterCreate, PageCreate
from services.errors import Invalid
from services.layout import autolayout, chapters
from services.postprocess.runs import PostprocessRequest, PostprocessRunner
from services.references import scenes as scenes_svc
from services.review import decisions as review
from tests.services.layout.test_chapters import approved_demo

WIDE, TALL, SQUARE = 1.5, 2 / 3, 1.0


def test_a_wide_panel_gets_a_wide_slot() -> None:
    assert autolayout.choose_templates([WIDE, TALL, TALL]) == [('three', {}, 3)]  # wide top, two tall below
    assert autolayout.choose_templates([WIDE] * 3) == [('grid', {'rows': 3, 'cols': 1}, 3)]  # three wide tiers
    assert autolayout.choose_templates([TALL] * 4) == [('four', {}, 4)]
    assert autolayout.choose_templates([TALL]) == [('splash', {}, 1)]
    assert autolayout.choose_templates([]) == []
    for aspects in ([WIDE, TALL, SQUARE, WIDE, WIDE], [TALL] * 9, [SQUARE] * 7):
        pages = autolayout.choose_templates(aspects)
        assert sum(n for *_, n in pages) == len(aspects)
        slots = [a for name, grid, _ in pages for a in autolayout.slot_aspects(name, tuple(grid.items()), 'us_comic')]
        assert len(slots) == len(aspects)  # every slot filled, none left empty
    fixed = autolayout.choose_templates([WIDE] * 6, template='four')
    assert fixed == [('four', {}, 4), ('two', {}, 2)]  # full pages as asked, the rest fitted to its count
    assert autolayout.choose_templates([TALL] * 4, template='grid', grid={'rows': 2, 'cols': 2}) == [
        ('grid', {'cols': 2, 'rows': 2}, 4)
    ]


def test_lays_out_a_chapter_in_scene_order_around_a_hand_placed_panel(sessions, store) -> None:
    demo, run_id = approved_demo(sessions, store)
    with sessions() as s:
        scenes = scenes_svc.list_scenes(s, demo.id)
        approved = {j.scene_id: j.candidates[0].asset.id for j in review.run_review(s, demo.id, run_id)}
        chapter = chapters.create_chapter(s, demo.id, ChapterCreate(title='Night'))
        hand = chapters.create_page(s, demo.id, PageCreate(chapter_id=chapter.id, template='two'))
        chapters.place_asset(s, demo.id, hand.id, 1, approved[scenes[1].id], crop={'zoom': 2.0})
        dry = autolayout.auto_layout(s, demo.id, 1, dry_run=True)
        assert dry.dry_run and len(chapters.list_pages(s, demo.id, chapter.id)) == 1  # nothing written
    assert dry.skipped == [(scenes[1].name, 'already on page 1')]
    assert [(p.number, [x.scene for x in p.panels]) for p in dry.pages] == [(2, [scenes[0].name, scenes[2].name])]
    with sessions() as s:
        done = autolayout.auto_layout(s, demo.id, 1)
        pages = chapters.list_pages(s, demo.id, chapter.id)
    assert not done.dry_run and [p.template for p in done.pages] == [p.template for p in dry.pages]
    assert [(p.slot, p.asset_id, p.crop['zoom']) for p in pages[0].panels] == [(1, approved[scenes[1].id], 2.0)]
    assert [p.asset_id for p in pages[1].panels] == [approved[scenes[0].id], approved[scenes[2].id]]
    assert pages[1].template == 'two' and done.pages[0].page_id == pages[1].id
    with sessions() as s:
        again = autolayout.auto_layout(s, demo.id, 1)
    assert again.pages == [] and [why for _, why in again.skipped] == ['already on page 2', 'already on page 1',
                                                                      'already on page 2']  # fmt: skip


def test_prefers_the_newest_post_processed_output_that_passed_qa(sessions, store) -> None:
    demo, run_id = approved_demo(sessions, store, scenes=2)
    with sessions() as s:
        approved = [j.candidates[0].asset.id for j in review.run_review(s, demo.id, run_id)]
    runner = PostprocessRunner(sessions, store, None)
    req = PostprocessRequest(asset_ids=[approved[0]], steps=['color'], profile='cinematic_warm')
    older, newer = runner.run('demo', req).outputs[0], runner.run('demo', req).outputs[0]
    assert not older.archived and not newer.archived, 'the colour step passes QA on the demo'
    with sessions() as s:
        plan = autolayout.auto_layout(s, demo.id, 1, stage='style', dry_run=True)
        assert [(p.asset_id, p.source_id) for p in plan.pages[0].panels][0] == (newer.asset_id, approved[0])
        row = s.get(Asset, newer.asset_id)
        row.status = ReviewState.archived  # what the runner does to an output that failed QA
        s.add(row)
    with sessions() as s:
        assert chapters.list_chapters(s, demo.id) == []
        done = autolayout.auto_layout(s, demo.id, 1)
        assert [p.asset_id for p in done.pages[0].panels] == [older.asset_id, approved[1]]
        assert [c.number for c in chapters.list_chapters(s, demo.id)] == [1]  # made for the layout
        assert autolayout.auto_layout(s, demo.id, 1, stage='time').skipped[0][1] == 'already on page 1'


def test_bad_requests_are_refused_before_anything_is_read(sessions, store, demo) -> None:
    with sessions() as s:
        with pytest.raises(Invalid, match='Unknown page template'):
            autolayout.auto_layout(s, demo.id, 1, template='seven')
        with pytest.raises(Invalid, match='Grid rows must be'):
            autolayout.auto_layout(s, demo.id, 1, template='grid', grid={'rows': 0, 'cols': 1})
        with pytest.raises(Invalid, match='Stage must be one of'):
            autolayout.auto_layout(s, demo.id, 1, stage='dawn')
        plan = autolayout.auto_layout(s, demo.id, 1)
        assert plan.pages == [] and all(why == 'no approved image' for _, why in plan.skipped)
        assert s.exec(select(Asset).where(Asset.status == ReviewState.approved)).all() == []
