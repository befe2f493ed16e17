"""Run plan table and live progress bars; they take read models and callbacks only."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from components.continuity_views import picks_view
from components.gallery import thumb_url
from models.references import SceneRead
from services.runs.plan import RunPlan
from services.runs.planned import PlanSummary
from services.runs.status import RunProgress

OWN = 'own'  # a target select's "follow the scene's own continuity" value

STATUS_COLOURS = {
    'done': 'positive',
    'failed': 'negative',
    'running': 'primary',
    'queued': 'grey',
    'canceled': 'warning',
    'interrupted': 'warning',
    'planned': 'grey',
    'checking QA': 'accent',
}


def shown_status(status: str, done: int, failed: int, total: int) -> str:
    """Every candidate is in but the work is still open: QA is being measured, which can take a few seconds."""
    return 'checking QA' if status == 'running' and total and done + failed == total else status


def plan_view(slug: str, plan: RunPlan) -> None:
    """The plan before anything runs: each job's prompt, inputs and cost, blocked scenes with their reason."""
    req = plan.request
    cost = 'free (offline renderer)' if plan.provider_offline else f'${plan.total_cost_usd:.2f}'
    with ui.row().classes('items-center gap-6').mark('plan-summary'):
        ui.label(f'{len(plan.runnable)} job(s) × {req.candidates} candidate(s)').classes('font-semibold')
        ui.label(f'Estimated cost: {cost}').mark('plan-cost')
        ui.label(f'Budget left: ${plan.remaining_budget_usd:.2f}')
    for job in plan.jobs:
        with ui.card().classes('w-full').mark('plan-job'):
            with ui.row().classes('items-center w-full'):
                ui.label(job.scene_name).classes('font-semibold')
                ui.space()
                if job.blocked:
                    ui.badge('blocked', color='negative')
                else:
                    ui.label(f'{job.size[0]}×{job.size[1]} · ${job.cost_usd:.2f}').classes('text-sm text-gray-600')
            if job.target:
                ui.label(f'Target: {job.target}').classes('text-sm').mark('plan-target')
            if job.blocked:
                ui.label(job.blocked).classes('text-negative text-sm').mark('plan-blocked')
                continue
            with ui.row().classes('gap-2'):
                for inp in job.inputs:
                    with ui.column().classes('items-center gap-0'):
                        ui.image(thumb_url(slug, inp.asset_id)).classes('w-16 h-16').props('fit=cover no-spinner')
                        ui.label(inp.role).classes('text-xs text-gray-500')
            with ui.expansion('Composed prompt').classes('w-full text-sm'):
                ui.label(job.prompt).classes('text-sm whitespace-pre-wrap').mark('plan-prompt')
            picks_view(job.references)


def progress_view(slug: str, progress: RunProgress) -> None:
    run = progress.run
    with ui.row().classes('items-center gap-4 w-full'):
        status = shown_status(run.status.value, run.done, run.failed, run.total)
        ui.badge(status, color=STATUS_COLOURS.get(status, 'grey')).mark('run-status')
        spent = f'${progress.spent_usd:.2f} spent'
        if progress.maybe_billed_usd:
            spent += f' (${progress.maybe_billed_usd:.2f} of it maybe billed: calls that got no answer)'
        ui.label(f'{run.done}/{run.total} candidates · {run.failed} failed · {spent}').mark('run-counts')
    ui.linear_progress(value=progress.fraction, show_value=False).props('size=12px rounded').mark('run-progress')
    for job in progress.jobs:
        with ui.card().classes('w-full').mark('job-card'):
            with ui.row().classes('items-center w-full'):
                ui.label(job.scene).classes('font-semibold')
                status = shown_status(job.status, job.done, job.failed, job.total)
                ui.badge(status, color=STATUS_COLOURS.get(status, 'grey')).mark('job-status')
                ui.space()
                ui.label(f'{job.done}/{job.total}')
            ui.linear_progress(value=(job.done / job.total) if job.total else 0, show_value=False).props(
                'rounded'
            ).mark('job-progress')
            for err in job.errors:
                ui.label(err).classes('text-negative text-sm').mark('job-error')
            with ui.row().classes('gap-2'):
                for asset_id in job.asset_ids:
                    ui.image(thumb_url(slug, asset_id)).classes('w-24 h-24').props(
                        'fit=cover no-spinner no-transition'
                    ).mark('candidate-thumb')


def scene_targets(
    scenes: Sequence[SceneRead], key: str, every: str, overrides: dict[str, str], on_change: Callable[[], None]
) -> None:
    """Per scene: its own time (or weather), what this run will aim for, and a select to override just that scene."""
    options = ('day', 'dusk', 'night') if key == 'time' else ('clear', 'rain', 'fog', 'snow')
    with ui.column().classes('gap-1').mark('scene-targets'):
        ui.label(f'{key.capitalize()} per scene').classes('font-semibold')
        for sc in scenes:
            own = sc.continuity.get(key)
            mine = overrides.get(sc.id, OWN)
            target = mine if mine != OWN else (every if every != OWN else own)
            why = 'set for this scene' if mine != OWN else ('set for every scene' if every != OWN else 'its own')
            with ui.row().classes('items-center gap-3').mark('scene-target-row'):
                ui.label(sc.name).classes('w-40 font-medium')
                ui.label(f'its own: {own or "not set"}').classes('w-32 text-sm text-gray-600')

                def change(e: object, i: str = sc.id) -> None:
                    overrides[i] = getattr(e, 'value', OWN) or OWN
                    on_change()

                choices = {OWN: 'follow the run', **{v: v for v in options}}
                ui.select(choices, value=mine, on_change=change).props('dense').classes('w-36').mark('scene-target')
                text = f'→ {target} ({why})' if target else '→ not set: choose one'
                ui.label(text).classes('text-sm' if target else 'text-sm text-negative').mark('scene-target-result')


def plan_banner(summary: PlanSummary, *, on_start: Callable[[bool], None]) -> None:
    """A recorded plan says it is one: nothing was generated or paid, what it would cost, and one click to start it."""
    with ui.card().classes('w-full bg-blue-50').mark('plan-banner'):
        ui.label('This is a plan: nothing has been generated or paid yet.').classes('text-lg font-semibold')
        facts = f'{summary.jobs} job(s), {summary.candidates} candidate(s) on {summary.provider}'
        ui.label(f'{facts} · estimated cost: {summary.cost_text}').mark('plan-banner-cost')
        for (scene, aim, prompt), picks in zip(summary.lines, summary.picks, strict=True):
            with ui.expansion(f'{scene}' + (f' → {aim}' if aim else '')).classes('w-full text-sm').mark('plan-line'):
                ui.label(prompt).classes('text-sm whitespace-pre-wrap')
            picks_view(picks)
        for b in summary.blocked:
            ui.label(f'{b.get("scene")}: not in this plan: {b.get("reason")}').classes('text-sm text-negative')
        with ui.row().classes('items-center gap-4'):
            confirm = None if summary.offline else ui.checkbox(f'I confirm spending {summary.cost_text}')
            ui.button(
                'Start this plan', icon='play_arrow', on_click=lambda: on_start(bool(confirm and confirm.value))
            ).mark('start-plan')
