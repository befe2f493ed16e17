"""Bootstrap (J03): copy a prompt into any chatbot, paste its answer, preview the diff, then import it."""

from __future__ import annotations

from nicegui import ui

from components.errors import notify_errors
from pages.common import reference_frame
from services.bootstrap import importer as bootstrap
from services.deps import Deps
from services.errors import KromaError


def render_report(lines: list[str]) -> None:
    """The diff, one line each: + create, ~ update (fields), - delete, ? a name that is not set up."""
    colours = {'+': 'text-positive', '~': 'text-warning', '-': 'text-negative', '?': 'text-gray-500'}
    for line in lines:
        ui.label(line).classes(f'font-mono text-sm {colours.get(line.strip()[:1], "")}').mark('diff-line')


def register(deps: Deps) -> None:
    @ui.page('/bootstrap')
    def bootstrap_page() -> None:
        with reference_frame(deps, 'Bootstrap', 'bootstrap') as project:
            if project is None:
                return
            ui.label(f'Bootstrap · {project.name}').classes('text-2xl font-semibold')
            ui.label(
                '1. Build the prompt and paste it into any chatbot. 2. Paste its whole answer below. '
                '3. Preview what would change, then import. Secret values are never imported, only names.'
            ).classes('text-sm text-gray-600 max-w-4xl')

            def build() -> None:
                with deps.sessions() as s:
                    prompt.value = bootstrap.build_prompt(s, project)
                prompt.set_visibility(True)
                copy.set_visibility(True)

            with ui.row():
                ui.button('Build prompt', icon='auto_awesome', on_click=build).mark('bootstrap-build')
                copy = ui.button(
                    'Copy', icon='content_copy', on_click=lambda: ui.clipboard.write(prompt.value or '')
                ).props('outline')
                copy.set_visibility(False)
            prompt = (
                ui.textarea('Prompt for the chatbot').props('readonly outlined rows=10').classes('w-full max-w-4xl')
            )
            prompt.mark('bootstrap-prompt').set_visibility(False)
            answer = ui.textarea("The chatbot's answer (prose around the JSON is fine)").props('outlined rows=10')
            answer.classes('w-full max-w-4xl font-mono').mark('bootstrap-answer')
            mode = ui.toggle(
                {'merge': 'Merge (upsert by name)', 'replace': 'Replace the sections given'}, value='merge'
            )
            mode.mark('bootstrap-mode')
            result = ui.column().classes('gap-0 w-full max-w-4xl').mark('bootstrap-result')

            def run(dry_run: bool) -> None:
                result.clear()
                try:
                    with deps.sessions() as s:
                        report = bootstrap.import_answer(
                            s, project, answer.value or '', mode=mode.value, dry_run=dry_run
                        )
                except KromaError as e:
                    with result:
                        ui.label('The answer cannot be imported:').classes('text-negative font-semibold')
                        for err in e.details.get('errors', [e.user_message]):
                            ui.label(err).classes('text-negative font-mono text-sm').mark('bootstrap-error')
                    raise
                with result:
                    render_report(report.lines())
                if not dry_run:
                    ui.notify('Imported' if report.changed else 'Nothing to change: all unchanged', type='positive')

            with ui.row():
                ui.button('Preview (dry run)', icon='visibility', on_click=notify_errors(lambda: run(True))).mark(
                    'bootstrap-preview'
                )
                ui.button('Import', icon='download', on_click=notify_errors(lambda: run(False))).mark('bootstrap-apply')
