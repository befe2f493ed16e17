"""Settings: the current project's name, budget, batch limit, QA thresholds, storage; archive or delete it."""

from __future__ import annotations

from dataclasses import fields

from nicegui import ui

from components.errors import notify_errors
from components.theme import set_current_project
from models.project import ProjectUpdate, StorageUpdate
from pages.common import project_frame
from services.deps import Deps
from services.errors import parse
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.qa.thresholds import QAThresholds


def register(deps: Deps) -> None:
    @ui.page('/settings')
    def settings_page() -> None:
        with project_frame(deps, 'Settings') as p:
            if p is None:
                return
            slug = p.slug
            qa = QAThresholds.from_dict(p.settings.get('qa'))
            with deps.sessions() as s:
                generators = provider_accounts.list_accounts(
                    s, project_id=p.id, kinds=provider_accounts.GENERATION_KINDS
                )
            with ui.card().classes('w-full max-w-3xl'):
                ui.label('Project').classes('text-lg font-semibold')
                name = ui.input('Name', value=p.name).classes('w-full').mark('settings-name')
                description = ui.textarea('Description', value=p.description).classes('w-full')
                with ui.row():
                    budget = ui.number('Budget (USD)', value=p.budget_usd, min=0, format='%.2f').mark('settings-budget')
                    batch = ui.number(
                        'Batch limit (jobs per run)', value=p.batch_limit, min=1, max=500, precision=0
                    ).mark('settings-batch')
                    default_account = ui.select(
                        {a.id: f'{a.name} ({a.kind.value})' for a in generators},
                        value=provider_accounts.default_account_id(p.settings, generators),
                        label='Default provider for runs',
                    ).classes('w-64')
                    default_account.mark('settings-default-account')
            with ui.card().classes('w-full max-w-3xl'):
                ui.label('QA thresholds').classes('text-lg font-semibold')
                inputs = {}
                with ui.grid(columns=3).classes('w-full'):
                    for f in fields(QAThresholds):
                        value = getattr(qa, f.name)
                        if isinstance(value, bool):
                            inputs[f.name] = ui.checkbox(f.name.replace('_', ' '), value=value)
                        else:
                            inputs[f.name] = ui.number(f.name.replace('_', ' '), value=value).mark(
                                f'qa-{f.name.replace("_", "-")}'
                            )
            with ui.card().classes('w-full max-w-3xl'):
                ui.label('Storage').classes('text-lg font-semibold')
                root = ui.input('Local root (empty: inside the data dir)', value=p.storage_root or '').classes('w-full')
                root.mark('storage-root')
                move = ui.checkbox("Move the project's files to the new root (each checked by SHA-256)").mark(
                    'storage-move'
                )
                with ui.row():
                    bucket = ui.input('S3 bucket', value=p.s3_bucket or '')
                    prefix = ui.input('S3 prefix', value=p.s3_prefix or '')
                    endpoint = ui.input('S3 endpoint URL', value=p.s3_endpoint_url or '')
                    region = ui.input('S3 region', value=p.s3_region or '')

            @notify_errors
            def save() -> None:
                thresholds = QAThresholds.from_dict(
                    {k: (bool(v.value) if isinstance(v, ui.checkbox) else v.value) for k, v in inputs.items()}
                )
                project = parse(
                    ProjectUpdate,
                    name=name.value or '',
                    description=description.value or '',
                    budget_usd=budget.value if budget.value is not None else 0,
                    batch_limit=batch.value if batch.value is not None else 1,
                    settings={
                        'qa': thresholds.to_dict(),
                        provider_accounts.DEFAULT_ACCOUNT_SETTING: default_account.value,
                    },
                )
                storage = parse(
                    StorageUpdate,
                    storage_root=root.value,
                    s3_bucket=bucket.value,
                    s3_prefix=prefix.value,
                    s3_endpoint_url=endpoint.value,
                    s3_region=region.value,
                )
                with deps.sessions() as s:
                    projects.update_project(s, slug, project)
                    projects.update_storage(
                        s,
                        slug,
                        storage,
                        data_dir=deps.data_dir,
                        db_path=deps.options.db_path,
                        move=bool(move.value),
                        allow_link_local=deps.options.allow_link_local_urls,
                    )
                ui.notify('Settings saved', type='positive')

            @notify_errors
            def archive() -> None:
                with deps.sessions() as s:
                    projects.archive_project(s, slug)
                set_current_project(None)
                ui.navigate.to('/')

            @notify_errors
            def delete() -> None:
                with deps.sessions() as s:
                    projects.delete_project(s, slug, confirm=confirm.value or '', data_dir=deps.data_dir)
                set_current_project(None)
                ui.navigate.to('/')

            ui.button('Save', icon='save', on_click=save).mark('settings-save')
            with ui.expansion('Archive or delete this project').classes('w-full max-w-3xl'):
                ui.button('Archive', on_click=archive).props('outline').mark('settings-archive')
                confirm = (
                    ui.input(f'Type "{slug}" to delete it and its files for good')
                    .classes('w-96')
                    .mark('settings-confirm')
                )
                ui.button('Delete project', on_click=delete).props('color=negative').mark('settings-delete')
