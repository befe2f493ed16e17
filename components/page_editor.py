"""Page layout pieces: chapter and page bars, slot picker, crop sliders, balloon form, live preview (data + callbacks)."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nicegui import background_tasks, ui

from components.gallery import gallery_grid, thumb_url
from models.assets import AssetRead
from models.layout import ChapterRead, PageRead
from services.layout.balloons import KINDS, TAIL_DIRECTIONS
from services.layout.render import DEFAULT_CROP
from services.layout.templates import PAGE_SIZE_LABELS, TEMPLATES

Handler = Callable[..., Any]


def _call(fn: Handler, *args: Any) -> None:
    """Call a page action from a plain callback; an async action runs as a background task of this client."""
    result, slot = fn(*args), ui.context.slot
    if inspect.isawaitable(result):

        async def within_slot() -> None:
            with slot:
                await result

        background_tasks.create(within_slot(), name='page-editor-action')


@dataclass(frozen=True)
class EditorActions:
    """What the page does when the artist edits a panel; each returns after saving (sync or async)."""

    select_slot: Handler
    place: Handler
    clear: Handler
    crop: Handler
    save_balloon: Handler
    edit_balloon: Handler
    remove_balloon: Handler


def chapter_bar(chapters: Sequence[ChapterRead], current: str | None, on_pick: Handler, on_create: Handler) -> None:
    """Pick a chapter, or start a new one with a title and writer (its number is the next free one)."""
    with ui.row().classes('items-end gap-4 flex-wrap'):
        options = {c.id: f'Chapter {c.number} · {c.title or "untitled"}' for c in chapters}  # never a blank name
        ui.select(options, value=current, label='Chapter', on_change=lambda e: on_pick(e.value)).classes('w-64').mark(
            'chapter-select'
        )
        title = ui.input('New chapter title').classes('w-56').mark('chapter-title')
        writer = ui.input('Writer').classes('w-40').mark('chapter-writer')
        ui.button('New chapter', icon='add', on_click=lambda: on_create(title.value, writer.value)).props(
            'outline'
        ).mark('chapter-create')


@dataclass(frozen=True)
class PageActions:
    """What the page bar asks the page to do: pick, add, re-lay out, move or delete a page."""

    pick: Handler
    add: Handler
    relayout: Handler
    move: Handler
    delete: Handler


def page_bar(pages: Sequence[PageRead], current: PageRead | None, act: PageActions) -> None:
    """A template and size for a new page (or the current one); pick, move or delete pages in reading order."""
    with ui.row().classes('items-end gap-3 flex-wrap'):
        now = current.template if current else 'four'
        template = ui.select(TEMPLATES, value=now, label='Template').classes('w-56').mark('page-template')
        size = ui.select(PAGE_SIZE_LABELS, value=current.size_preset if current else 'us_comic', label='Size')
        size.classes('w-56').mark('page-size')
        grid = (current.grid if current else {}) or {}
        with ui.row().classes('gap-2').bind_visibility_from(template, 'value', lambda v: v == 'grid'):
            rows = ui.number('Rows', value=grid.get('rows', 3), min=1, max=8, precision=0).mark('page-rows')
            cols = ui.number('Cols', value=grid.get('cols', 3), min=1, max=8, precision=0).mark('page-cols')
        gutter = ui.number('Gutter px', value=grid.get('gutter'), min=0, max=200, precision=0).mark('page-gutter')
        for box in (rows, cols, gutter):
            box.classes('w-24')

        def layout() -> dict[str, Any]:
            """The form as PageLayout fields; the page turns them into its Create or Update model."""
            whole = {
                k: None if v.value is None else int(v.value)
                for k, v in (('rows', rows), ('cols', cols), ('gutter', gutter))
            }
            return {'template': template.value, 'size_preset': size.value, **whole}

        ui.button('Add page', icon='note_add', on_click=lambda: act.add(layout())).mark('page-add')
        if current:
            ui.button('Apply to this page', on_click=lambda: act.relayout(layout())).props('outline').mark(
                'page-relayout'
            )
    with ui.row().classes('items-center gap-2 flex-wrap'):
        for p in pages:
            selected = current is not None and p.id == current.id
            ui.button(f'Page {p.number}', on_click=lambda _, i=p.id: act.pick(i)).props(
                'unelevated' if selected else 'outline'
            ).mark('page-item')
        if current:
            ui.button(icon='arrow_back', on_click=lambda: act.move(-1)).props('flat dense').mark('page-earlier')
            ui.button(icon='arrow_forward', on_click=lambda: act.move(1)).props('flat dense').mark('page-later')
            ui.button(icon='delete', on_click=lambda: act.delete()).props('flat dense color=negative').mark(
                'page-delete'
            )


def panel_editor(
    slug: str, page: PageRead, slot: int, assets: Sequence[AssetRead], balloon: int | None, act: EditorActions
) -> None:
    """One panel at a time: choose the slot, click an approved image, frame it, then add its balloons."""
    panel = page.panel(slot)
    with ui.row().classes('items-center gap-2'):
        for i in range(page.slots):
            filled = (p := page.panel(i)) is not None and p.asset_id is not None
            ui.button(
                f'Panel {i + 1}', icon='image' if filled else 'crop_free', on_click=lambda _, i=i: act.select_slot(i)
            ).props('unelevated' if i == slot else 'outline').mark(f'slot-{i + 1}')
    with ui.row().classes('items-center gap-3'):
        if panel and panel.asset_id:
            ui.image(thumb_url(slug, panel.asset_id)).classes('w-16 h-16').props('fit=cover no-spinner')
            ui.button('Clear panel', icon='layers_clear', on_click=lambda: act.clear()).props(
                'flat color=negative'
            ).mark('slot-clear')
        ui.label(f'Panel {slot + 1}: click an approved image to place it').classes('text-sm text-gray-600')
    if not assets:
        ui.label('No approved images yet: approve candidates in Review first.').classes('text-gray-500')
    with ui.scroll_area().classes('w-full h-48 border rounded'):
        gallery_grid(slug, assets, on_select=lambda a: _call(act.place, a), columns=6)
    crop = panel.crop if panel else DEFAULT_CROP
    sliders = {}
    with ui.grid(columns=3).classes('w-full gap-4'):
        for key, label, lo, hi in (('zoom', 'Zoom', 1.0, 4.0), ('x', 'Focus x', 0.0, 1.0), ('y', 'Focus y', 0.0, 1.0)):
            with ui.column().classes('gap-0'):
                ui.label(label).classes('text-xs text-gray-500')
                sliders[key] = ui.slider(min=lo, max=hi, step=0.01, value=crop[key]).props('label').mark(f'crop-{key}')
    for s in sliders.values():
        s.on_value_change(lambda: act.crop({k: float(v.value) for k, v in sliders.items()}))
    balloon_section(panel.balloons if panel else (), balloon, act)


def balloon_section(balloons: Sequence[dict], editing: int | None, act: EditorActions) -> None:
    """The panel's balloons in drawing order, and one form that adds a new balloon or saves the one being edited."""
    ui.label('Balloons and captions').classes('text-lg font-semibold')
    for i, b in enumerate(balloons):
        with ui.row().classes('items-center gap-2').mark('balloon-item'):
            ui.label(f'{i + 1}. {b["kind"]} · {b["text"][:48]}').classes('text-sm')
            ui.button(icon='edit', on_click=lambda _, i=i: act.edit_balloon(i)).props('flat dense').mark('balloon-edit')
            ui.button(icon='delete', on_click=lambda _, i=i: act.remove_balloon(i)).props('flat dense').mark(
                'balloon-remove'
            )
    b = dict(balloons[editing]) if editing is not None and editing < len(balloons) else {}
    with ui.row().classes('items-end gap-3 flex-wrap'):
        text = ui.textarea('Text', value=b.get('text', '')).props('autogrow').classes('w-72').mark('balloon-text')
        kind = ui.select(list(KINDS), value=b.get('kind', 'speech'), label='Kind').classes('w-28').mark('balloon-kind')
        tail = ui.select(list(TAIL_DIRECTIONS), value=b.get('tail', 'bottom'), label='Tail').classes('w-32')
        tail.mark('balloon-tail')
        font = ui.number('Font px', value=b.get('font_size', 28), min=8, max=200, precision=0).classes('w-24')
        font.mark('balloon-font')
    with ui.grid(columns=3).classes('w-full gap-4'):
        where = {}
        for key, label, lo, default in (
            ('x', 'Centre x', 0.0, 0.5),
            ('y', 'Centre y', 0.0, 0.2),
            ('width', 'Width', 0.1, 0.4),
        ):
            with ui.column().classes('gap-0'):
                ui.label(label).classes('text-xs text-gray-500')
                where[key] = ui.slider(min=lo, max=1.0, step=0.01, value=b.get(key, default)).mark(f'balloon-{key}')

    def data() -> dict:
        size = int(font.value) if font.value is not None else 28
        return {'text': text.value or '', 'kind': kind.value, 'tail': tail.value, 'font_size': size} | {
            k: float(s.value) for k, s in where.items()
        }

    with ui.row():
        label = 'Add balloon' if editing is None else f'Save balloon {editing + 1}'
        ui.button(label, icon='chat_bubble', on_click=lambda: act.save_balloon(editing, data())).mark('balloon-save')
        if editing is not None:
            ui.button('Cancel', on_click=lambda: act.edit_balloon(None)).props('flat').mark('balloon-cancel')


class PagePreview:
    """The live page image; renders are coalesced so a dragged slider never queues a backlog of renders."""

    def __init__(self, render: Callable[[], Awaitable[bytes | None]]) -> None:
        self.render = render
        self.image = ui.image().classes('w-full border bg-white').props('no-spinner no-transition').mark('page-preview')
        self._busy = self._again = False

    async def update(self) -> None:
        """Render now, or once more after the render in flight if one is running."""
        if self._busy:
            self._again = True
            return
        self._busy = True
        try:
            while True:
                self._again = False
                data = await self.render()
                self.image.set_source(f'data:image/jpeg;base64,{base64.b64encode(data).decode()}' if data else '')
                if not self._again:
                    break
        finally:
            self._busy = False
