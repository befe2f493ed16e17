"""The auto-layout dialog: the dry run's pages and skipped scenes first, then Lay out (or Cancel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from services.layout.autolayout import LayoutPlan, PlannedPage
from services.layout.templates import TEMPLATES


def page_summary(page: PlannedPage) -> str:
    """'Page 2 · 3 wide tiers: Launch pad, Café table, Night street'."""
    shape = (
        f'{page.grid["rows"]} × {page.grid["cols"]} grid' if page.grid else TEMPLATES.get(page.template, page.template)
    )
    names = ', '.join(p.scene + (' (post-processed)' if p.asset_id != p.source_id else '') for p in page.panels)
    return f'Page {page.number} · {shape}: {names}'


def layout_dialog(plan: LayoutPlan, on_confirm: Callable[[], Any]) -> ui.dialog:
    """Show what auto-layout would do to the chapter; nothing changes until Lay out is pressed."""
    with ui.dialog() as dialog, ui.card().classes('min-w-[520px]').mark('layout-plan'):
        ui.label(f'Auto-layout chapter {plan.chapter}').classes('text-lg font-semibold')
        if not plan.pages:
            ui.label('Nothing to lay out: every scene is on a page already or has no approved image.').classes(
                'text-gray-500'
            )
        for page in plan.pages:
            ui.label(page_summary(page)).mark('layout-plan-page')
        for scene, reason in plan.skipped:
            ui.label(f'Skipped {scene}: {reason}').classes('text-sm text-gray-500').mark('layout-plan-skipped')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Cancel', on_click=dialog.close).props('flat').mark('layout-cancel')

            async def confirm() -> None:
                dialog.close()
                result = on_confirm()
                if hasattr(result, '__await__'):
                    await result

            button = ui.button('Lay out', icon='auto_awesome_mosaic', on_click=confirm).mark('layout-confirm')
            button.set_enabled(bool(plan.pages))
    dialog.open()
    return dialog
