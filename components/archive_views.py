"""Archived post-process outputs: each thumbnail on a checkerboard with QA's reason and a one-click restore."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from components.compare_slider import CHECKERBOARD
from components.gallery import thumb_url
from services.postprocess.archive import ArchivedOutput


def archived_list(slug: str, items: Sequence[ArchivedOutput], on_restore: Callable[[str], None]) -> None:
    """Nothing QA archived is hidden: the artist sees why and can overrule it."""
    if not items:
        ui.label('Nothing archived: every output is live and offered on Pages.').classes('text-sm text-gray-500')
        return
    for item in items:
        with ui.row().classes('items-center gap-3 w-full no-wrap').mark('pp-archived'):
            ui.image(thumb_url(slug, item.asset.id)).classes('w-20 h-20 rounded').style(CHECKERBOARD).props(
                'fit=contain no-spinner'
            )
            with ui.column().classes('gap-0 grow'):
                ui.label(item.asset.original_name or item.asset.id[:8]).classes('text-sm font-medium')
                ui.label(f'Archived by QA: {item.reason}').classes('text-sm text-negative').mark('pp-archived-reason')
            ui.button('Restore', icon='restore', on_click=lambda _, i=item.asset.id: on_restore(i)).props(
                'outline dense'
            ).mark('pp-restore')
