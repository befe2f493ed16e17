"""Pages (J08): chapters and pages, approved art placed in template slots, crop, balloons, a live page preview."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from components.errors import notify_errors
from components.layout_plan import layout_dialog
from components.page_editor import EditorActions, PageActions, PagePreview, chapter_bar, page_bar, panel_editor
from models.assets import AssetRead
from models.layout import ChapterCreate, PageCreate, PageUpdate
from pages.common import project_frame
from services.deps import Deps
from services.errors import parse
from services.layout import autolayout, chapters


def register(deps: Deps) -> None:
    """Declare /pages; everything it needs comes from deps."""

    @ui.page('/pages')
    def layout_page() -> None:
        with project_frame(deps, 'Pages & Export') as project:
            if project is None:
                return
            with deps.sessions() as s:
                first = next(iter(chapters.list_chapters(s, project.id)), None)
            state: dict[str, Any] = {'chapter': first.id if first else None, 'page': None, 'slot': 0, 'balloon': None}

            def load() -> tuple[list, list, chapters.PageRead | None, list[AssetRead]]:
                with deps.sessions() as s:
                    chapter_list = chapters.list_chapters(s, project.id)
                    pages = chapters.list_pages(s, project.id, state['chapter']) if state['chapter'] else []
                    if state['page'] not in {p.id for p in pages}:
                        state.update(page=pages[0].id if pages else None, slot=0, balloon=None)
                    page = next((p for p in pages if p.id == state['page']), None)
                    return chapter_list, pages, page, chapters.placeable_assets(s, project.id) if page else []

            async def render() -> bytes | None:
                if not state['page']:
                    return None
                with deps.sessions() as s:
                    spec = chapters.page_spec(s, project, state['page'], store=deps.store)
                return await run.io_bound(chapters.preview_jpeg, spec)

            def mutate(fn: Any, *, redraw: bool = True, **changes: Any) -> Any:
                """Save through the service, then redraw the editor (not while a slider drags) and the preview."""

                @notify_errors
                async def handler(*args: Any) -> None:
                    with deps.sessions() as s:
                        fn(s, *args)
                    state.update(changes)
                    if redraw:
                        body.refresh()
                    await preview.update()

                return handler

            def pick(key: str, value: Any) -> Any:
                reset = {'slot': 0, 'balloon': None} if key in ('chapter', 'page') else {'balloon': None}
                return mutate(lambda _s: None, **(reset | {key: value}))()

            def create_chapter(s: Any, title: str, writer: str) -> None:
                data = parse(ChapterCreate, title=title, writer=writer)
                made = chapters.create_chapter(s, project.id, data)
                state['chapter'] = made.id
                ui.notify(f'Chapter {made.number} · {made.title or "untitled"} created', type='positive')

            def add_page(s: Any, layout: dict[str, Any]) -> None:
                data = parse(PageCreate, layout, chapter_id=state['chapter'] or '')
                state.update(page=chapters.create_page(s, project.id, data).id, slot=0)

            def relayout(s: Any, layout: dict[str, Any]) -> None:
                chapters.update_page(s, project.id, state['page'], parse(PageUpdate, layout))

            def save_balloon(s: Any, index: int | None, data: dict) -> None:
                chapters.edit_balloon(s, project.id, state['page'], state['slot'], index, data)

            panel = EditorActions(
                select_slot=lambda i: pick('slot', i),
                place=mutate(lambda s, a: chapters.place_asset(s, project.id, state['page'], state['slot'], a.id)),
                clear=mutate(lambda s: chapters.clear_panel(s, project.id, state['page'], state['slot'])),
                crop=mutate(
                    lambda s, c: chapters.set_crop(s, project.id, state['page'], state['slot'], c), redraw=False
                ),
                save_balloon=mutate(save_balloon, balloon=None),
                edit_balloon=lambda i: pick('balloon', i),
                remove_balloon=mutate(
                    lambda s, i: chapters.edit_balloon(s, project.id, state['page'], state['slot'], i, None),
                    balloon=None,
                ),
            )
            pages_act = PageActions(
                pick=lambda i: pick('page', i),
                add=mutate(add_page),
                relayout=mutate(relayout),
                move=mutate(lambda s, d: chapters.move_page(s, project.id, state['page'], d)),
                delete=mutate(lambda s: chapters.delete_page(s, project.id, state['page']), page=None),
            )

            def lay_out(s: Any, number: int) -> None:
                plan = autolayout.auto_layout(s, project.id, number)
                first = plan.pages[0].page_id if plan.pages else state['page']
                state.update(chapter=plan.chapter_id, page=first, slot=0, balloon=None)

            @notify_errors
            def auto_layout() -> None:
                """The dry run in a dialog first; Lay out fills new pages of the current chapter (or chapter 1)."""
                with deps.sessions() as s:
                    number = chapters.get_chapter(s, project.id, state['chapter']).number if state['chapter'] else 1
                    plan = autolayout.auto_layout(s, project.id, number, dry_run=True)
                layout_dialog(plan, lambda: mutate(lay_out)(number))

            ui.label(f'Pages · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('gap-2'):
                ui.button('Auto-layout', icon='auto_awesome_mosaic', on_click=auto_layout).props('outline').mark(
                    'auto-layout'
                )
                ui.button('Export…', icon='ios_share', on_click=lambda: ui.navigate.to('/export')).props(
                    'outline'
                ).mark('go-export')

            @ui.refreshable
            def body() -> None:
                chapter_list, pages, page, assets = load()
                chapter_bar(chapter_list, state['chapter'], lambda i: pick('chapter', i), mutate(create_chapter))
                if not state['chapter']:
                    ui.label('Start with a chapter: give it a title and press New chapter.').classes('text-gray-500')
                    return
                page_bar(pages, page, pages_act)
                if page is not None:
                    panel_editor(project.slug, page, state['slot'], assets, state['balloon'], panel)

            with ui.row().classes('w-full gap-6 items-start no-wrap'):
                with ui.column().classes('grow gap-3'):
                    body()
                with ui.column().classes('w-[600px] shrink-0'):
                    ui.label('Preview').classes('text-lg font-semibold')
                    preview = PagePreview(render)
            ui.timer(0.1, preview.update, once=True)
