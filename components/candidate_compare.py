"""Candidates side by side with their metric badges; the selected one is outlined. Read models and callbacks only."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from components.gallery import image_url, thumb_url
from services.review.decisions import CandidateView, JobView

VERDICT_COLOURS = {
    'pass': 'positive',
    'warn': 'warning',
    'fail': 'negative',
    'unverified': 'grey',
    'failed': 'negative',
}
# review state → (icon, colour, card classes, label): each decision is visible at a glance, not only by an icon
STATES = {
    'approved': ('check_circle', 'positive', 'border-4 border-green-600 bg-green-50', 'APPROVED'),
    'rejected': ('cancel', 'negative', 'border-4 border-red-600 bg-red-50 opacity-60', 'REJECTED'),
    'shortlisted': ('star', 'amber-8', 'border-4 border-amber-500 bg-amber-50', 'SHORTLISTED'),
    'generated': ('radio_button_unchecked', 'grey', 'border border-gray-300', ''),
}
# metric → (what it measures, its unit and direction, how the threshold is used)
METRIC_HELP = {
    'style': (
        "Similarity to the project's style references (colour, tone, texture, edge density)",
        '0–1, higher is closer to the style',
        'passes at or above the threshold; warns a little below; fails well below',
    ),
    'composition': (
        'Structural similarity to the input scene: is the layout kept?',
        '0–1, higher means the layout is kept',
        'passes at or above the threshold; warns a little below; fails well below',
    ),
    'identity': (
        "Face distance to the character's reference images",
        'distance 0–2, lower is closer',
        'fails above the threshold; unverified when no face is found',
    ),
    'colour': (
        'Colour guard: mean difference between the R, G and B channels (chroma)',
        'chroma on a 0–255 scale, 0 is gray',
        'colour projects warn below the threshold; monochrome projects fail above it',
    ),
    'technical': (
        'Sharpness (Laplacian spread at 512 px), clipped pixels and size',
        'sharpness, higher is crisper',
        'soft or clipped warns; smaller than the minimum size fails',
    ),
    'cutout': (
        'Share of the frame a cut-out kept',
        '0–1 of the pixels',
        'fails when almost nothing is kept; warns when almost nothing was removed',
    ),
}


def metric_tooltip(name: str, m: dict) -> str:
    """What the score measures, its unit, the threshold and why it passed, warned or failed."""
    what, unit, rule = METRIC_HELP.get(name, (name, '', ''))
    value, threshold = m.get('value'), m.get('threshold')
    parts = [f'{what}.', f'Value: {"not measured" if value is None else f"{value:.3f}"} ({unit}).' if unit else '']
    if threshold is not None:
        parts.append(f'Threshold: {threshold:g} ({rule}).')
    parts.append(f'{str(m.get("verdict", "")).capitalize()}: {m.get("detail") or "no detail"}.')
    return ' '.join(p for p in parts if p)


def metric_badges(c: CandidateView) -> None:
    with ui.row().classes('gap-1 flex-wrap'):
        for name, m in c.metrics.items():
            value = m.get('value')
            shown = '' if value is None else f' {value:.2f}'
            badge = ui.badge(f'{name}{shown}', color=VERDICT_COLOURS.get(m.get('verdict'), 'grey')).props('outline')
            badge.mark('metric-badge').tooltip(metric_tooltip(name, m))


def metric_legend() -> None:
    """The same explanations as the tooltips, for reading the scores without hovering."""
    with ui.expansion('What the scores mean', icon='help_outline').classes('w-full max-w-4xl').mark('score-legend'):
        for name, (what, unit, rule) in METRIC_HELP.items():
            ui.label(f'{name}: {what}; {unit}; {rule}.').classes('text-sm')
        ui.label('Score on a card: weighted mean of the metrics (0–1), used only to order candidates.').classes(
            'text-sm'
        )


def inputs_strip(slug: str, job: JobView) -> None:
    with ui.row().classes('gap-2 items-end'):
        for inp in job.inputs:
            with ui.column().classes('items-center gap-0'):
                ui.image(thumb_url(slug, inp['asset_id'])).classes('w-28 h-28').props('fit=contain no-spinner')
                ui.label(f'{inp["role"]} {inp.get("name") or ""}'.strip()).classes('text-xs text-gray-500')


def candidate_row(
    slug: str,
    job: JobView,
    selected: int | None,
    on_pick: Callable[[int], None],
    *,
    on_open: Callable[[int], None] | None = None,
    on_compare: Callable[[str], None] | None = None,
    comparing: Sequence[str] = (),
) -> None:
    with ui.row().classes('gap-3 flex-wrap'):
        for i, c in enumerate(job.candidates):
            icon, colour, frame, label = STATES.get(c.review_state, STATES['generated'])
            ring = 'ring-4 ring-accent' if i == selected else ''
            with (
                ui.card()
                .classes(f'w-64 cursor-pointer {frame} {ring}')
                .on('click', lambda _, i=i: on_pick(i))
                .mark('candidate-card', f'candidate-{c.review_state}')
            ):
                if label:
                    ui.badge(label, color=colour).classes('text-sm').mark('candidate-state')
                if c.asset:
                    ui.image(thumb_url(slug, c.asset.id)).classes('w-full').props(
                        'fit=contain no-spinner no-transition'
                    )
                else:
                    ui.label(c.error or 'no image').classes('text-negative text-sm')
                with ui.row().classes('items-center w-full'):
                    ui.icon(icon, color=colour)
                    ui.label(f'#{c.index + 1} · rank {c.rank or "–"} · {c.score:.2f}').classes('text-sm')
                    ui.space()
                    ui.badge(c.verdict, color=VERDICT_COLOURS.get(c.verdict, 'grey')).mark('candidate-verdict')
                metric_badges(c)
                if c.asset:
                    with ui.row().classes('gap-1'):
                        if on_open:
                            ui.button(icon='zoom_in', on_click=lambda _, i=i: on_open(i)).props(
                                'flat dense round'
                            ).tooltip('Open full size').mark('candidate-open')
                        if on_compare:
                            picked = c.id in comparing
                            ui.button(
                                'Comparing' if picked else 'Compare',
                                icon='compare',
                                on_click=lambda _, cid=c.id: on_compare(cid),
                            ).props(f'dense no-caps {"unelevated" if picked else "flat"}').mark('candidate-compare')


def compare_pair(slug: str, pair: Sequence[CandidateView]) -> None:
    """Two candidates full width, side by side, with their scores, for a decision between near equals."""
    with ui.row().classes('w-full no-wrap gap-4').mark('compare-pair'):
        for c in pair:
            with ui.column().classes('w-1/2 gap-1'):
                ui.label(f'#{c.index + 1} · {c.verdict} · score {c.score:.2f}').classes('font-semibold')
                if c.asset:
                    ui.image(image_url(slug, c.asset.id)).classes('w-full').props('fit=contain no-spinner')
                metric_badges(c)
