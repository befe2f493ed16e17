"""Prompt templates (J02): a stage's text with {placeholders}, a live preview for a scene, and every saved version."""

from __future__ import annotations

from nicegui import ui

from components.errors import notify_errors
from models.base import Stage
from models.references import PromptTemplateCreate
from pages.common import reference_frame
from services.deps import Deps
from services.errors import KromaError, parse
from services.references import prompt_templates as prompts
from services.references import scenes
from services.references.prompt_templates import PLACEHOLDERS


def register(deps: Deps) -> None:
    @ui.page('/references/prompts')
    def prompt_templates_page() -> None:
        with reference_frame(deps, 'Prompt templates', 'prompts') as project:
            if project is None:
                return
            with deps.sessions() as s:
                scene_options = {sc.id: sc.name for sc in scenes.list_scenes(s, project.id)}
                first = prompts.current_template(s, project.id, Stage.style)
            ui.label(f'Prompt templates · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('items-end gap-2'):
                stage = ui.select([s.value for s in Stage], value='style', label='Stage').classes('w-36')
                stage.mark('template-stage')
                name = ui.input('Template name', value='style default').classes('w-56').mark('template-name')
                scene = ui.select(
                    scene_options, value=next(iter(scene_options), None), label='Preview for scene', clearable=True
                ).classes('w-56')
                scene.mark('preview-scene')
            ui.label('Placeholders: ' + ' '.join('{' + p + '}' for p in PLACEHOLDERS)).classes(
                'text-xs text-gray-600 font-mono'
            )
            text = ui.textarea('Template', value=first).classes('w-full max-w-4xl font-mono').mark('template-text')
            text.props('autogrow debounce=300')
            ui.label('Preview').classes('text-sm font-semibold')
            preview = ui.label().classes('max-w-4xl p-2 bg-slate-50 rounded text-sm').mark('template-preview')

            def update_preview() -> None:
                try:
                    with deps.sessions() as s:
                        out = prompts.preview(
                            s, project.id, stage=Stage(stage.value), text=text.value or '', scene_id=scene.value
                        )
                    preview.classes(remove='text-negative')
                except KromaError as e:
                    out = e.user_message
                    preview.classes(add='text-negative')
                preview.set_text(out)

            def stage_changed() -> None:
                with deps.sessions() as s:
                    text.value = prompts.current_template(s, project.id, Stage(stage.value))
                name.value = f'{stage.value} default'
                versions.refresh()

            text.on_value_change(update_preview)
            scene.on_value_change(update_preview)
            stage.on_value_change(stage_changed)
            name.on_value_change(lambda: versions.refresh())
            update_preview()

            @notify_errors
            def save() -> None:
                data = parse(PromptTemplateCreate, stage=stage.value, text=text.value or '', name=name.value or None)
                with deps.sessions() as s:
                    saved = prompts.save_template(s, project.id, data)
                ui.notify(f'Saved {saved.name} version {saved.version}', type='positive')
                versions.refresh()

            ui.button('Save as new version', icon='save', on_click=save).mark('save-template')

            @ui.refreshable
            def versions() -> None:
                with deps.sessions() as s:
                    rows = prompts.template_versions(s, project.id, (name.value or '').strip())
                ui.label(f'Versions of "{name.value}"').classes('text-lg font-semibold')
                if not rows:
                    ui.label('Not saved yet: runs use the built-in default.').classes('text-gray-500')
                for v in rows:
                    with ui.row().classes('items-center gap-2 max-w-4xl no-wrap').mark('template-version'):
                        ui.badge(f'v{v.version}')
                        ui.label(f'{v.stage.value}: {v.text}').classes('text-sm truncate')
                        ui.button('Load', on_click=lambda _, t=v.text: text.set_value(t)).props('flat dense').mark(
                            f'load-version-{v.version}'
                        )

            versions()
