"""The studio frame: header with the current project, left navigation grouped by the journey, error handling."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from nicegui import app, ui

from services.errors import KromaError

log = logging.getLogger(__name__)

NAV: list[tuple[str, str, str]] = [
    ('Setup', '/setup', 'key'),
    ('Projects', '/', 'folder'),
    ('References', '/references', 'photo_library'),
    ('Runs', '/runs', 'play_circle'),
    ('Review', '/review', 'fact_check'),
    ('Post-process', '/postprocess', 'auto_fix_high'),
    ('Pages & Export', '/pages', 'menu_book'),
    ('Utilities', '/utilities', 'build'),
    ('Copilot', '/copilot', 'chat'),
    ('Instructions', '/instructions', 'checklist'),
    ('Backups', '/backups', 'cloud_upload'),
    ('Settings', '/settings', 'settings'),
    ('Audit log', '/audit', 'history'),
]

CARD = 'p-4 min-w-[9rem]'


def current_project() -> str | None:
    return app.storage.user.get('project')


def set_current_project(slug: str | None) -> None:
    app.storage.user['project'] = slug


def _on_exception(e: Exception) -> None:
    if isinstance(e, KromaError):
        ui.notify(e.user_message, type='negative', multi_line=True)
        return
    log.exception('Unexpected error in the studio')
    ui.notify('Something went wrong; the details are in the log. Nothing was lost.', type='negative')


@contextmanager
def frame(title: str, *, project_slugs: Sequence[str] = ()) -> Iterator[None]:
    """Wrap every page: same header and navigation, one error handler, content column."""
    ui.on_exception(_on_exception)
    ui.colors(primary='#3d5a80', secondary='#98c1d9', accent='#ee6c4d')
    with ui.header().classes('items-center bg-primary text-white px-4 py-2'):
        ui.button(icon='menu', on_click=lambda: drawer.toggle()).props('flat round color=white')
        ui.label('Kroma Studio').classes('text-lg font-bold')
        ui.label(f'· {title}').classes('text-lg')
        ui.space()
        if project_slugs:
            ui.select(
                list(project_slugs),
                value=current_project() if current_project() in project_slugs else None,
                label='Project',
                on_change=lambda e: (set_current_project(e.value), ui.navigate.reload()),
            ).props('dense dark outlined options-dark').classes('w-48').mark('project-picker')
    with ui.left_drawer(value=True).classes('bg-slate-50 p-0') as drawer:
        with ui.list().props('dense').classes('w-full'):
            for label, href, icon in NAV:
                with ui.item(on_click=lambda h=href: ui.navigate.to(h)).mark(
                    f'nav-{label.lower().replace(" & ", "-").replace(" ", "-")}'
                ):
                    with ui.item_section().props('avatar'):
                        ui.icon(icon)
                    with ui.item_section():
                        ui.item_label(label)
    with ui.column().classes('w-full p-4 gap-4'):
        yield


def stat_card(label: str, value: str, *, mark: str | None = None) -> None:
    with ui.card().classes(CARD):
        ui.label(label).classes('text-xs uppercase text-gray-500')
        el = ui.label(value).classes('text-2xl font-semibold')
        if mark:
            el.mark(mark)
