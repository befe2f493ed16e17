"""Runs (J04, R01): compose a run and see its plan and cost, then follow live progress; cancel, resume, retry."""

from __future__ import annotations

from nicegui import ui

from components.errors import notify_errors
from components.run_views import OWN, STATUS_COLOURS, plan_banner, progress_view, scene_targets
from components.theme import frame
from models.base import Stage, WorkState
from pages.common import not_found_page, project_frame, project_slugs
from services.deps import Deps
from services.errors import NotFound
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.references import characters, scenes
from services.references.scenes import TIMES, WEATHERS
from services.runs import control as runs
from services.runs import planned
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
                        value=provider_accounts.default_account_id(project.settings, accounts),
                        label='Provider',
                    )
                    .classes('w-64')
                    .mark('run-provider')
                )
                every = {'time': OWN, 'weather': OWN}
                time_sel = (
                    ui.select({OWN: "Each scene's own", **{t: t for t in TIMES}}, value=OWN, label='Time, all scenes')
                    .classes('w-44')
                    .mark('run-time')
                    .bind_visibility_from(stage, 'value', lambda v: v == 'time')
                )
                weather_sel = (
                    ui.select(
                        {OWN: "Each scene's own", **{w: w for w in WEATHERS}}, value=OWN, label='Weather, all scenes'
                    )
                    .classes('w-44')
                    .mark('run-weather')
                    .bind_visibility_from(stage, 'value', lambda v: v == 'weather')
                )
                chars = (
                    ui.select({c.id: c.name for c in char_list}, multiple=True, label='Characters (empty = present)')
                    .classes('w-64')
                    .props('use-chips')
                    .bind_visibility_from(stage, 'value', lambda v: v == 'character')
                )
            overrides: dict[str, dict[str, str]] = {'time': {}, 'weather': {}}

            @ui.refreshable
            def targets() -> None:
                key = stage.value
                if key not in ('time', 'weather'):
                    return
                every[key] = (time_sel if key == 'time' else weather_sel).value or OWN
                picked = [sc for sc in scene_list if not chosen.value or sc.id in chosen.value]
                scene_targets(picked, key, every[key], overrides[key], targets.refresh)

            targets()
            for element in (stage, chosen, time_sel, weather_sel):
                element.on_value_change(targets.refresh)
            confirm = ui.checkbox('I confirm the spend (paid providers)').mark('run-confirm')

            def request(mode: str) -> RunRequest:
                key = stage.value
                per_scene = {i: {key: v} for i, v in overrides.get(key, {}).items() if v != OWN}
                return RunRequest(
                    stage=Stage(key),
                    scene_ids=list(chosen.value) or None,
                    candidates=int(count.value) if count.value is not None else 0,  # 0 is refused, not made 1
                    account_id=account.value,
                    character_ids=list(chars.value) or None,
                    time=time_sel.value if key == 'time' and time_sel.value != OWN else None,
                    weather=weather_sel.value if key == 'weather' and weather_sel.value != OWN else None,
                    scene_targets=per_scene or None,
                    mode=mode,
                    confirm_spend=confirm.value,
                )

            @notify_errors
            def start(mode: str) -> None:
                with deps.sessions() as s:
                    started = runs.start(
                        s, project, request(mode), secrets=deps.secrets, project_root=deps.store.root(project)
                    )
                if mode == 'run':
                    deps.wake.runs()
                ui.navigate.to(f'/runs/{started.run_id}')

            with ui.row():
                ui.button('Plan (no calls)', icon='list', on_click=lambda: start('dry')).props('outline').mark(
                    'show-plan'
                )
                ui.button('Start run', icon='play_arrow', on_click=lambda: start('run')).mark('start-run')
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
        try:
            with deps.sessions() as s:
                run = run_queue.get_run_any(s, run_id)
                project = projects.get_project_by_id(s, run.project_id)
        except NotFound:
            not_found_page(deps, 'Not found', f'There is no run "{run_id[:40]}".')
            return
        slug = project.slug
        with frame(f'Run {run_id[:8]}', project_slugs=project_slugs(deps)):
            kind = 'plan' if run.status == WorkState.planned else 'run'
            ui.label(f'{run.stage.value} {kind} · {project.name}').classes('text-2xl font-semibold')

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

            with ui.row().classes('hidden' if run.status == WorkState.planned else ''):
                for what, label, icon, props in (
                    ('cancel', 'Cancel', 'stop', 'outline color=negative'),
                    ('resume', 'Resume', 'play_arrow', 'outline'),
                    ('retry', 'Retry failed', 'replay', 'outline'),
                ):
                    ui.button(label, icon=icon, on_click=lambda w=what: act(w)).props(props).mark(f'run-{what}')
                ui.button('Review', icon='fact_check', on_click=lambda: ui.navigate.to(f'/review/{run_id}')).mark(
                    'run-review'
                )

            @notify_errors
            def start_plan(confirm_spend: bool) -> None:
                with deps.sessions() as s:
                    planned.start_planned(
                        s,
                        project,
                        run_id,
                        confirm_spend=confirm_spend,
                        secrets=deps.secrets,
                        project_root=deps.store.root(project),
                    )
                deps.wake.runs()
                ui.notify('Plan started: the run is queued', type='positive')
                ui.navigate.reload()

            if run.status == WorkState.planned:
                with deps.sessions() as s:
                    plan_banner(planned.plan_summary(s, project.id, run_id), on_start=start_plan)

            @ui.refreshable
            def live() -> None:
                with deps.sessions() as s:
                    progress_view(slug, run_status.run_progress(s, project.id, run_id))

            live()
            ui.timer(0.5, live.refresh)
