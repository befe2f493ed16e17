"""Run plan table and live progress bars; they take read models and callbacks only."""

from __future__ import annotations

from nicegui import ui

from components.continuity_views import picks_view
from components.gallery import thumb_url
from services.runs.plan import RunPlan
from services.runs.status import RunProgress

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
