"""The character page's continuity parts: outfit colours as text, and the bible's versions with a one-click diff."""

from __future__ import annotations

from nicegui import ui

from components.continuity_views import diff_table, versions_view
from components.errors import notify_errors
from models.project import ProjectRead
from pages.common import split_list
from services.deps import Deps
from services.references import character_versions


def outfit_colours_text(palettes: dict[str, list[str]]) -> str:
    """{'raincoat': ['#f2c200']} → 'raincoat: #f2c200' (one outfit a line)."""
    return '\n'.join(f'{name}: {", ".join(colours)}' for name, colours in palettes.items())


def parse_outfit_colours(text: str | None) -> dict[str, list[str]]:
    """'raincoat: #f2c200, #333333' lines (or ; separated) back to a mapping; the model checks the colours."""
    out: dict[str, list[str]] = {}
    for line in (text or '').replace(';', '\n').splitlines():
        if line.strip():
            name, _, colours = line.partition(':')
            out[name.strip()] = split_list(colours.replace(' ', ','))
    return out


def versions_section(deps: Deps, project: ProjectRead, character_id: str) -> ui.refreshable:
    """Every version of the bible, newest first; a diff with the version before is one click."""
    ui.label('Bible versions').classes('text-lg font-semibold')
    with ui.dialog() as dialog, ui.card().classes('w-[48rem]').mark('diff-dialog'):
        title = ui.label().classes('text-lg font-semibold')
        body = ui.column().classes('w-full')
        ui.button('Close', on_click=dialog.close).props('flat')

    @notify_errors
    def show_diff(old: int, new: int) -> None:
        with deps.sessions() as s:
            changes = character_versions.diff_versions(s, project.id, character_id, old, new)
        title.text = f'v{old} → v{new}'
        body.clear()
        with body:
            diff_table(changes)
        dialog.open()

    @ui.refreshable
    def listing() -> None:
        with deps.sessions() as s:
            rows = character_versions.list_versions(s, project.id, character_id)
        versions_view(rows, show_diff)

    listing()
    return listing  # the page refreshes it after each save
