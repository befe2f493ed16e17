"""Chapters, pages and panels: numbering, templates, only approved art of the same project, balloons as data."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from models.base import AssetKind, LinkRelation, ReviewState, Stage
from models.layout import ChapterCreate, ChapterUpdate, PageCreate, PageUpdate
from models.project import ProjectCreate
from services.errors import Conflict, Invalid, NotFound, parse
from services.files import sha256_file
from services.layout import chapters
from services.projects import assets, projects
from services.projects.assets import AssetStore
from services.projects.demo import ensure_demo
from services.references import scenes as scenes_svc
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest


def approved_demo(sessions, store: AssetStore, *, candidates: int = 1, scenes: int = 3) -> tuple:
    """The demo project after a style run on its first scenes, each scene's first candidate approved: (project, run)."""
    ensure_demo(sessions, store)
    with sessions() as s:
        demo = projects.get_project(s, 'demo')
        scene_ids = [sc.id for sc in scenes_svc.list_scenes(s, demo.id)][:scenes]
        req = RunRequest(stage=Stage.style, candidates=candidates, mode='run', scene_ids=scene_ids)
        run_id = runs.start(s, demo, req).run_id
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))
    with sessions() as s:
        for job in review.run_review(s, demo.id, run_id):
            review.decide(s, demo.id, job.candidates[0].id, 'approve')
    return demo, run_id


def png(colour: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', (64, 48), colour).save(buf, 'PNG')
    return buf.getvalue()


def test_chapters_and_pages_keep_their_numbering(sessions, data_dir) -> None:
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='comic', name='Comic'), data_dir=data_dir)
        one = chapters.create_chapter(s, p.id, ChapterCreate(title='Liftoff', writer='Ann'))
        two = chapters.create_chapter(s, p.id, ChapterCreate())
        assert (one.number, two.number) == (1, 2)
        with pytest.raises(Conflict, match='Chapter 1 already exists'):
            chapters.create_chapter(s, p.id, ChapterCreate(number=1))
        with pytest.raises(Conflict, match='Chapter 1 already exists'):
            chapters.update_chapter(s, p.id, two.id, ChapterUpdate(number=1))
        with pytest.raises(Invalid, match='Chapter number: must be a whole number from 1 to 9,999'):
            parse(ChapterCreate, number=0)
        assert chapters.update_chapter(s, p.id, two.id, ChapterUpdate(number=5, title='Landing')).title == 'Landing'
        assert chapters.chapter_by_number(s, p.id, 5).id == two.id
        with pytest.raises(NotFound, match='Chapter 3 does not exist'):
            chapters.chapter_by_number(s, p.id, 3)

        pages = [
            chapters.create_page(s, p.id, PageCreate(chapter_id=one.id, template=t, size_preset='a4')).id
            for t in ('splash', 'four', 'six')
        ]
        layout = {'template': 'grid', 'size_preset': 'webtoon', 'rows': 2, 'cols': 3, 'gutter': 10}
        grid = chapters.create_page(s, p.id, PageCreate(chapter_id=one.id, **layout))
        assert (grid.slots, grid.grid) == (6, {'rows': 2, 'cols': 3, 'gutter': 10})
        with pytest.raises(Invalid, match='Grid rows') as err:
            chapters.create_page(s, p.id, PageCreate(chapter_id=one.id, template='grid', rows=9))
        assert err.value.code == 'page_grid'
        with pytest.raises(Invalid) as err:
            chapters.create_page(s, p.id, PageCreate(chapter_id=one.id, template='seven'))
        assert err.value.details == {'field': 'template'}

        order = chapters.reorder_pages(s, p.id, one.id, [grid.id, *reversed(pages)])
        assert [(x.number, x.template) for x in order] == [(1, 'grid'), (2, 'six'), (3, 'four'), (4, 'splash')]
        with pytest.raises(Invalid, match='every page'):
            chapters.reorder_pages(s, p.id, one.id, pages)
        moved = chapters.move_page(s, p.id, grid.id, 10)
        assert [x.template for x in moved] == ['six', 'four', 'splash', 'grid']
        chapters.delete_page(s, p.id, moved[1].id)
        assert [(x.number, x.template) for x in chapters.list_pages(s, p.id, one.id)] == [
            (1, 'six'),
            (2, 'splash'),
            (3, 'grid'),
        ]
        assert [c.pages for c in chapters.list_chapters(s, p.id)] == [3, 0]
        chapters.delete_chapter(s, p.id, one.id)
        assert [c.number for c in chapters.list_chapters(s, p.id)] == [5]


def test_panels_hold_only_approved_art_of_the_same_project(sessions, store) -> None:
    demo, run_id = approved_demo(sessions, store, candidates=2, scenes=1)
    with sessions() as s:
        other = projects.create_project(s, ProjectCreate(slug='other', name='Other'), data_dir=store.data_dir)
        foreign, _ = store.ingest(s, other, png(), name='theirs.png', status=ReviewState.approved)
        job = review.run_review(s, demo.id, run_id)[0]
        winner, loser = job.candidates[0].asset, job.candidates[1].asset
        derived, _ = store.ingest(s, demo, png((200, 10, 10)), name='graded.png', kind=AssetKind.derived)
        assets.link_assets(s, demo.id, winner.id, derived.id, LinkRelation.derived_from, {'op': 'color'})
        chapter = chapters.create_chapter(s, demo.id, ChapterCreate())
        page = chapters.create_page(s, demo.id, PageCreate(chapter_id=chapter.id, template='four'))

        chapters.place_asset(s, demo.id, page.id, 0, winner.id)
        chapters.place_asset(s, demo.id, page.id, 1, derived.id, crop={'zoom': 2.0})
        with pytest.raises(Invalid, match='is not approved; approve it in Review') as err:
            chapters.place_asset(s, demo.id, page.id, 2, loser.id)
        assert err.value.code == 'not_approved'
        with pytest.raises(NotFound, match='No such asset in this project'):
            chapters.place_asset(s, demo.id, page.id, 2, foreign.id)
        with pytest.raises(Invalid, match='no panel 5'):
            chapters.place_asset(s, demo.id, page.id, 4, winner.id)
        offered = {a.id for a in chapters.placeable_assets(s, demo.id)}
        assert {winner.id, derived.id} <= offered and loser.id not in offered and foreign.id not in offered

        chapters.set_crop(s, demo.id, page.id, 0, {'zoom': 1.5, 'x': 0.25, 'y': 0.75})
        with pytest.raises(Invalid, match='Panel 1 crop zoom: must be a number from 1 to 4'):
            chapters.set_crop(s, demo.id, page.id, 0, {'zoom': 9})
        chapters.edit_balloon(s, demo.id, page.id, 0, None, {'text': 'Ready?', 'x': 0.5, 'y': 0.2})
        chapters.edit_balloon(s, demo.id, page.id, 0, None, {'text': 'Later…', 'x': 0.1, 'y': 0.1, 'kind': 'caption'})
        with pytest.raises(Invalid, match='Balloon 3 x: must be a number from 0 to 1') as err:
            chapters.edit_balloon(s, demo.id, page.id, 0, None, {'text': 'Off', 'x': 2, 'y': 0.5})
        assert err.value.details['field'] == 'x'
        with pytest.raises(Invalid, match='Balloon 1: unknown field "colour"'):
            chapters.edit_balloon(s, demo.id, page.id, 1, None, {'text': 'Hi', 'x': 0.5, 'y': 0.5, 'colour': 'red'})
        chapters.edit_balloon(s, demo.id, page.id, 0, 0, {'text': 'Ready now?', 'x': 0.5, 'y': 0.2, 'tail': 'left'})

        with pytest.raises(Invalid, match='Panel 2 is filled'):
            chapters.update_page(s, demo.id, page.id, PageUpdate(template='splash'))
        spec = chapters.page_spec(s, demo, page.id, store=store)
        winner_path = store.path_of(demo, winner)
    assert [p.slot for p in spec.panels] == [0, 1]
    assert spec.panels[0].image_path == winner_path and spec.panels[0].crop == {'zoom': 1.5, 'x': 0.25, 'y': 0.75}
    assert [b.text for b in spec.panels[0].balloons] == ['Ready now?', 'Later…']
    assert spec.panels[0].balloons[0].tail == 'left' and spec.panels[0].balloons[1].kind == 'caption'
    preview = chapters.preview_jpeg(spec)
    with Image.open(io.BytesIO(preview)) as im:
        assert im.format == 'JPEG' and im.width == 600
    assert sha256_file(winner_path) == winner.sha256  # balloons never touch the source file
    with sessions() as s:
        chapters.clear_panel(s, demo.id, page.id, 1)
        assert chapters.update_page(s, demo.id, page.id, PageUpdate(template='two')).slots == 2
        assert chapters.get_page(s, demo.id, page.id).panel(1) is None
