"""Style guides (J02): rules, palette, do and don't text, and the style reference images every run uses."""

from __future__ import annotations

from nicegui import ui

from components.errors import notify_errors
from components.gallery import palette_swatches
from models.base import AssetKind
from models.project import ProjectRead
from models.references import StyleGuideCreate, StyleGuideRead, StyleGuideUpdate
from pages.common import gallery_for, reference_frame, split_list, upload_box
from services.deps import Deps
from services.errors import parse
from services.projects.assets import AssetFilter
from services.references import style_guides


def guide_form(deps: Deps, project: ProjectRead, guide: StyleGuideRead, on_change: object) -> None:
    """One guide as an editable card; saving keeps the name unique (ignoring case)."""
    with ui.card().classes('w-full max-w-3xl').mark(f'guide-card-{guide.name.lower().replace(" ", "-")}'):
        name = ui.input('Name', value=guide.name).classes('w-full').mark('guide-name')
        rules = ui.textarea('Rules', value=guide.rules).classes('w-full').mark('guide-rules')
        with ui.row().classes('w-full gap-2 no-wrap'):
            do = ui.textarea('Do', value=guide.do_text).classes('grow').mark('guide-do')
            dont = ui.textarea("Don't", value=guide.dont_text).classes('grow').mark('guide-dont')
        palette = ui.input('Palette (hex, comma separated)', value=', '.join(guide.palette)).classes('w-full')
        palette.mark('guide-palette')
        palette_swatches(guide.palette)

        @notify_errors
        def save() -> None:
            data = parse(
                StyleGuideUpdate,
                name=name.value or '',
                rules=rules.value or '',
                do_text=do.value or '',
                dont_text=dont.value or '',
                palette=split_list(palette.value),
            )
            with deps.sessions() as s:
                style_guides.update_style_guide(s, project.id, guide.id, data)
            ui.notify('Style guide saved', type='positive')
            on_change()  # type: ignore[operator]

        @notify_errors
        def delete() -> None:
            with deps.sessions() as s:
                style_guides.delete_style_guide(s, project.id, guide.id)
            on_change()  # type: ignore[operator]

        with ui.row():
            ui.button('Save', icon='save', on_click=save).mark('save-guide')
            ui.button('Delete', icon='delete', on_click=delete).props('outline color=negative').mark('delete-guide')


def register(deps: Deps) -> None:
    @ui.page('/references/style-guides')
    def style_guides_page() -> None:
        with reference_frame(deps, 'Style guides', 'style-guides') as project:
            if project is None:
                return
            ui.label(f'Style guides · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('items-end'):
                new_name = ui.input('New style guide name').classes('w-64').mark('new-guide-name')

                @notify_errors
                def create() -> None:
                    data = parse(StyleGuideCreate, name=new_name.value or '')
                    with deps.sessions() as s:
                        style_guides.create_style_guide(s, project.id, data)
                    new_name.value = ''
                    guides.refresh()

                ui.button('Add', icon='add', on_click=create).mark('create-guide')

            @ui.refreshable
            def guides() -> None:
                with deps.sessions() as s:
                    rows = style_guides.list_style_guides(s, project.id)
                if not rows:
                    ui.label('No style guides yet.').classes('text-gray-500')
                for g in rows:
                    guide_form(deps, project, g, guides.refresh)

            guides()
            ui.label('Style reference images').classes('text-lg font-semibold')
            ui.label('Every style run uses these as anchors for the drawing hand.').classes('text-sm text-gray-600')
            upload_box(
                deps,
                project,
                kind=AssetKind.style,
                tags=['style'],
                on_done=lambda _: gallery.refresh(),
                mark='style-upload',
            )
            gallery = gallery_for(deps, project, base=AssetFilter(kind=AssetKind.style.value), filters=False)
