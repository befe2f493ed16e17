"""The instruction card: what the copilot proposes (objective, inputs, constraints, cost) with Confirm and Cancel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from services.copilot.instructions import EventView, InstructionView

STATE_COLOURS = {
    'draft': 'grey',
    'pending_confirmation': 'accent',
    'queued': 'grey',
    'running': 'primary',
    'done': 'positive',
    'failed': 'negative',
    'canceled': 'warning',
}
TYPE_LABELS = {
    'pipeline_run': 'Run',
    'qa_check': 'QA check',
    'postprocess': 'Post-process',
    'layout': 'Layout',
    'export': 'Export',
    'backup': 'Backup',
    'custom': 'Agent task',
}
HIDDEN = {'scene_ids', 'character_ids', 'mode', 'text'}


def cost_text(item: InstructionView) -> str:
    est = item.estimate
    if item.type != 'pipeline_run':
        return 'no generation cost'
    cost = 'free (offline renderer)' if est.get('offline') else f'about ${item.cost_estimate_usd:.2f}'
    return f'{est.get("candidates", "?")} candidates in {est.get("jobs", "?")} job(s) · {cost}'


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ', '.join(map(str, value)) or '—'
    return str(value)


def _rows(title: str, data: dict[str, Any], mark: str) -> None:
    shown = {k: v for k, v in data.items() if k not in HIDDEN and v not in (None, [], '')}
    if not shown:
        return
    with ui.row().classes('gap-x-4 gap-y-0 flex-wrap text-sm').mark(mark):
        ui.label(title).classes('text-gray-500 w-24')
        for key, value in shown.items():
            ui.label(f'{key.replace("_", " ")}: {_value(value)}')


def instruction_card(
    item: InstructionView,
    *,
    on_confirm: Callable[[str], Any] | None = None,
    on_cancel: Callable[[str], Any] | None = None,
    events: Sequence[EventView] = (),
) -> ui.card:
    """One proposal; Confirm only while it waits for the artist, Cancel until it has finished."""
    with ui.card().classes('w-full max-w-3xl gap-2').mark('instruction-card') as card:
        with ui.row().classes('items-center gap-2 w-full'):
            ui.badge(TYPE_LABELS.get(item.type, item.type), color='secondary')
            ui.label(item.objective).classes('font-semibold').mark('instruction-objective')
            ui.space()
            ui.badge(item.state.replace('_', ' '), color=STATE_COLOURS.get(item.state, 'grey')).mark(
                'instruction-state'
            )
        _rows('Inputs', item.inputs, 'instruction-inputs')
        _rows('Constraints', item.constraints, 'instruction-constraints')
        ui.label(f'Cost: {cost_text(item)}').classes('text-sm').mark('instruction-cost')
        for blocked in item.estimate.get('blocked', []):
            ui.label(f'Skipped {blocked["scene"]}: {blocked["reason"]}').classes('text-sm text-warning')
        if item.last_error:
            ui.label(item.last_error).classes('text-sm text-negative').mark('instruction-error')
        if item.result.get('message'):
            ui.label(item.result['message']).classes('text-sm text-positive').mark('instruction-result')
        if item.result.get('run_id'):
            ui.link('Open the run', f'/runs/{item.result["run_id"]}').classes('text-sm').mark('instruction-run-link')
        with ui.row().classes('gap-2'):
            if on_confirm and item.state in ('pending_confirmation', 'draft', 'failed'):
                label = 'Confirm again' if item.state == 'failed' else 'Confirm'
                ui.button(label, icon='check', on_click=lambda: on_confirm(item.id)).mark('instruction-confirm')
            if on_cancel and item.state in ('pending_confirmation', 'draft', 'queued', 'running'):
                ui.button('Cancel', icon='close', on_click=lambda: on_cancel(item.id)).props('outline').mark(
                    'instruction-cancel'
                )
        if events:
            with ui.expansion(f'Timeline ({len(events)})').classes('w-full text-sm').mark('instruction-timeline'):
                for ev in events:
                    with ui.row().classes('gap-3 items-baseline no-wrap').mark('instruction-event'):
                        ui.label(f'{ev.created_at:%Y-%m-%d %H:%M:%S}').classes(
                            'text-xs text-gray-500 font-mono whitespace-nowrap shrink-0'
                        )
                        ui.label(ev.event.replace('_', ' ')).classes('text-xs font-semibold w-28 shrink-0')
                        ui.label(ev.message)
    return card
