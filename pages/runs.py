"""Runs (J04, R01): compose a run and see its plan and cost, then follow live progress; cancel, resume, retry."""

from __future__ import annotations

from nicegui import ui

from components.errors import notify_errors
from components.run_views import STATUS_COLOURS, plan_view, progress_view
from components.theme import frame
from models.base import Stage
from pages.common import project_frame, project_slugs
from services.deps import Deps
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.references import characters, scenes
from services.references.scenes import TIMES, WEATHERS
from services.runs import control as runs
from services.runs import queue as run_queue
from services.runs import status as run_status
from services.runs.plan import RunRequest


def register(deps: Deps) -> None:
    @ui.page('/runs')
    def composer() -> None:
        with project_frame(deps, 'Runs') as project:
            if project is None:
                return
            with deps.sessions() as s:
                scene_list = scenes.list_scenes(s, project.id)
                char_list = characters.list_characters(s, project.id)
                accounts = provider_accounts.list_accounts(
                    s, project_id=project.id, kinds=provider_accounts.GENERATION_KINDS
                )
                recent = run_status.list_runs(s, project.id, limit=20)
            ui.label(f'New run · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('gap-4 items-end flex-wrap'):
                stage = (
                    ui.select([s.value for s in Stage], value='style', label='Stage').classes('w-36').mark('run-stage')
                )
                chosen = (
                    ui.select({s.id: s.name for s in scene_list}, multiple=True, label='Scenes (empty = all)')
                    .classes('w-72')
                    .props('use-chips')
                    .mark('run-scenes')
                )
                count = (
                    ui.number('Candidates per scene', value=3, min=1, max=8, precision=0)
                    .classes('w-44')
                    .mark('run-candidates')
                )
                account = (
                    ui.select(
                        {a.id: f'{a.name} ({a.kind.value})' for a in accounts},
                        value=accounts[0].id if accounts else None,
                        label='Provider',
                    )
                    .classes('w-64')
                    .mark('run-provider')
                )
                time_sel = (
                    ui.select(list(TIMES), value='night', label='Time')
                    .classes('w-28')
                    .bind_visibility_from(stage, 'value', lambda v: v == 'time')
                )
                weather_sel = (
                    ui.select(list(WEATHERS), value='rain', label='Weather')
                    .classes('w-28')
                    .bind_visibility_from(stage, 'value', lambda v: v == 'weather')
                )
                chars = (
                    ui.select({c.id: c.name for c in char_list}, multiple=True, label='Characters (empty = present)')
                    .classes('w-64')
                    .props('use-chips')
                    .bind_visibility_from(stage, 'value', lambda v: v == 'character')
                )
            with ui.row().classes('items-center gap-4'):
                mode = ui.toggle({'dry': 'Dry run (plan only)', 'run': 'Run'}, value='dry').mark('run-mode')
                confirm = ui.checkbox('I confirm the spend').mark('run-confirm')

            def request() -> RunRequest:
                return RunRequest(
                    stage=Stage(stage.value),
                    scene_ids=list(chosen.value) or None,
                    candidates=int(count.value or 1),
                    account_id=account.value,
                    character_ids=list(chars.value) or None,
                    time=time_sel.value if stage.value == 'time' else None,
                    weather=weather_sel.value if stage.value == 'weather' else None,
                    mode=mode.value,
                    confirm_spend=confirm.value,
                )

            @notify_errors
            def show_plan() -> None:
                with deps.sessions() as s:
                    plan, _ = runs.plan(s, project, request(), secrets=deps.secrets)
                plan_box.clear()
                with plan_box:
                    plan_view(project.slug, plan)

            @notify_errors
            def start() -> None:
                with deps.sessions() as s:
                    started = runs.start(
                        s, project, request(), secrets=deps.secrets, project_root=deps.store.root(project)
                    )
                deps.wake.runs()
                ui.navigate.to(f'/runs/{started.run_id}')

            with ui.row():
                ui.button('Show plan', icon='list', on_click=show_plan).props('outline').mark('show-plan')
                ui.button('Start', icon='play_arrow', on_click=start).mark('start-run')
            plan_box = ui.column().classes('w-full gap-2')
            ui.label('Recent runs').classes('text-lg font-semibold mt-4')
            for r in recent:
                with (
                    ui.row()
                    .classes('items-center gap-3 cursor-pointer')
                    .on('click', lambda _, i=r.id: ui.navigate.to(f'/runs/{i}'))
                    .mark('recent-run')
                ):
                    ui.badge(r.status.value, color=STATUS_COLOURS.get(r.status.value, 'grey'))
                    ui.label(f'{r.stage.value} · {r.done}/{r.total} · {r.created_at:%Y-%m-%d %H:%M}')

    @ui.page('/runs/{run_id}')
    def run_page(run_id: str) -> None:
        with deps.sessions() as s:
            run = run_queue.get_run_any(s, run_id)
            project = projects.get_project_by_id(s, run.project_id)
        slug = project.slug
        with frame(f'Run {run_id[:8]}', project_slugs=project_slugs(deps)):
            ui.label(f'{run.stage.value} run · {project.name}').classes('text-2xl font-semibold')

            @notify_errors
            def act(what: str) -> None:
                if what != 'cancel':
                    runs.recover(deps.sessions)
                with deps.sessions() as s:
                    if what == 'cancel':
                        runs.cancel(s, project, run_id, store=deps.store)
                    else:
                        n = run_queue.requeue(s, project.id, run_id, failed_only=what == 'retry')
                        ui.notify(f'{n} candidate(s) queued again')
                deps.wake.runs()
                live.refresh()

            with ui.row():
                for what, label, icon, props in (
                    ('cancel', 'Cancel', 'stop', 'outline color=negative'),
                    ('resume', 'Resume', 'play_arrow', 'outline'),
                    ('retry', 'Retry failed', 'replay', 'outline'),
                ):
                    ui.button(label, icon=icon, on_click=lambda w=what: act(w)).props(props).mark(f'run-{what}')
                ui.button('Review', icon='fact_check', on_click=lambda: ui.navigate.to(f'/review/{run_id}')).mark(
                    'run-review'
                )

            @ui.refreshable
            def live() -> None:
                with deps.sessions() as s:
                    progress_view(slug, run_status.run_progress(s, project.id, run_id))

            live()
            ui.timer(0.5, live.refresh)
