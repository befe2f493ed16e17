"""References (J02): the hub page with counts of every kind of reference, an upload box and the project's gallery."""

from __future__ import annotations

from nicegui import ui

from components.theme import stat_card
from pages.common import gallery_for, reference_frame, upload_box
from services.deps import Deps
from services.references import characters, reference_sets, scenes, style_guides
from services.references import prompt_templates as prompts


def register(deps: Deps) -> None:
    """Declare /references, the hub; each reference page registers itself (pages/__init__.py)."""

    @ui.page('/references')
    def references_page() -> None:
        with reference_frame(deps, 'References', 'references') as project:
            if project is None:
                return
            with deps.sessions() as s:
                counts = {
                    'Characters': len(characters.list_characters(s, project.id)),
                    'Style guides': len(style_guides.list_style_guides(s, project.id)),
                    'Scenes': len(scenes.list_scenes(s, project.id)),
                    'Reference sets': len(reference_sets.list_sets(s, project.id)),
                    'Prompt templates': len(prompts.list_templates(s, project.id)),
                }
            ui.label(f'References · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('gap-4'):
                for label, n in counts.items():
                    stat_card(label, str(n), mark=f'count-{label.lower().replace(" ", "-")}')
            ui.label('Upload references').classes('text-lg font-semibold')
            upload_box(deps, project, on_done=lambda _: grid.refresh())
            grid = gallery_for(deps, project)
