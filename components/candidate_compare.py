"""Candidates side by side with their metric badges; the selected one is outlined. Read models and callbacks only."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from components.gallery import thumb_url
from services.review.decisions import CandidateView, JobView

VERDICT_COLOURS = {
    'pass': 'positive',
    'warn': 'warning',
    'fail': 'negative',
    'unverified': 'grey',
    'failed': 'negative',
}
STATE_ICONS = {
    'approved': 'check_circle',
    'rejected': 'cancel',
    'shortlisted': 'star',
    'generated': 'radio_button_unchecked',
}


def metric_badges(c: CandidateView) -> None:
    with ui.row().classes('gap-1 flex-wrap'):
        for name, m in c.metrics.items():
            value = m.get('value')
            shown = '' if value is None else f' {value:.2f}'
            ui.badge(f'{name}{shown}', color=VERDICT_COLOURS.get(m.get('verdict'), 'grey')).props('outline').tooltip(
                m.get('detail') or m.get('verdict', '')
            )


def inputs_strip(slug: str, job: JobView) -> None:
    with ui.row().classes('gap-2 items-end'):
        for inp in job.inputs:
            with ui.column().classes('items-center gap-0'):
                ui.image(thumb_url(slug, inp['asset_id'])).classes('w-28 h-28').props('fit=contain no-spinner')
                ui.label(f'{inp["role"]} {inp.get("name") or ""}'.strip()).classes('text-xs text-gray-500')


def candidate_row(slug: str, job: JobView, selected: int | None, on_pick: Callable[[int], None]) -> None:
    with ui.row().classes('gap-3 flex-wrap'):
        for i, c in enumerate(job.candidates):
            ring = 'ring-4 ring-accent' if i == selected else ''
            with (
                ui.card()
                .classes(f'w-64 cursor-pointer {ring}')
                .on('click', lambda _, i=i: on_pick(i))
                .mark('candidate-card')
            ):
                if c.asset:
                    ui.image(thumb_url(slug, c.asset.id)).classes('w-full').props(
                        'fit=contain no-spinner no-transition'
                    )
                else:
                    ui.label(c.error or 'no image').classes('text-negative text-sm')
                with ui.row().classes('items-center w-full'):
                    ui.icon(STATE_ICONS.get(c.review_state, 'radio_button_unchecked'))
                    ui.label(f'#{c.index + 1} · rank {c.rank or "–"} · {c.score:.2f}').classes('text-sm')
                    ui.space()
                    ui.badge(c.verdict, color=VERDICT_COLOURS.get(c.verdict, 'grey')).mark('candidate-verdict')
                metric_badges(c)
