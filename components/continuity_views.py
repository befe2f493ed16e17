"""Continuity pieces: a scene's derived state with sources, review notes (bible versions, ledger flags), the plan's
reference picks and a character's bible versions. Read models and callbacks only."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from models.continuity import CharacterVersionRead
from services.references.character_versions import Change
from services.references.ledger_state import DerivedState, StateValue
from services.references.reference_picker import Pick
from services.review.continuity import JobContinuity

SOURCE_ICONS = {'event': 'history_edu', 'scene': 'landscape', 'character': 'menu_book'}


def _value_row(label: str, v: StateValue) -> None:
    with ui.row().classes('items-center gap-2 no-wrap').mark('ledger-value'):
        ui.label(f'{label}: {v.text}').classes('text-sm font-medium')
        if v.source:
            ui.icon(SOURCE_ICONS.get(v.source.kind, 'help'), size='xs').classes('text-gray-500')
            source = v.source.label + (f' — {v.source.note}' if v.source.note else '')
            ui.label(f'← {source}').classes('text-xs text-gray-500').mark('ledger-source')


def state_view(state: DerivedState) -> None:
    """Each value that holds in the scene with where it came from: an event, the scene itself or the bible."""
    shown = [(name, v) for name, v in state.fields.items() if v.text]
    shown += [(f'{who} {name}', v) for who, vals in state.characters.items() for name, v in vals.items() if v.text]
    with ui.column().classes('gap-0').mark('ledger-state'):
        if not shown:
            ui.label('Nothing recorded for this scene yet.').classes('text-xs text-gray-500')
        for label, v in shown:
            _value_row(label, v)


def continuity_notes(info: JobContinuity | None, candidate_id: str | None) -> None:
    """Under a job in review: which bible versions made it, and the selected candidate's contradictions."""
    if info is None:
        return
    with ui.row().classes('gap-2 flex-wrap'):
        for note in info.bible:
            colour = 'warning' if note.older else 'grey'
            ui.badge(note.text, color=colour).props('outline').mark('bible-version')
    for flag in info.flags.get(candidate_id or '', []):
        with ui.row().classes('items-center gap-1 no-wrap'):
            ui.icon('report', color='warning')
            ui.label(flag.text).classes('text-sm text-warning').mark('ledger-flag')
    for text in info.unverified.get(candidate_id or '', []):
        ui.label(f'Not checked against the ledger — {text}').classes('text-xs text-gray-500').mark('ledger-unverified')


def picks_view(picks: Sequence[Pick]) -> None:
    """The plan's character references: chosen ones first with why, then those left out and why."""
    if not picks:
        return
    with ui.expansion(f'References: {sum(p.chosen for p in picks)} of {len(picks)} chosen').classes('w-full text-sm'):
        for p in picks:
            with ui.row().classes('items-center gap-1 no-wrap').mark('plan-pick'):
                ui.icon(
                    'check_circle' if p.chosen else 'remove_circle_outline', color='positive' if p.chosen else 'grey'
                )
                ui.label(f'{p.character}: {p.reason}').classes('text-xs')


def versions_view(versions: Sequence[CharacterVersionRead], on_diff: Callable[[int, int], None]) -> None:
    """Newest first; each version but the first diffs against the one before it in one click."""
    for v in versions:
        with ui.row().classes('items-center gap-3').mark('bible-version-row'):
            ui.label(f'v{v.version}').classes('font-semibold w-10')
            ui.label(f'{v.created_at:%Y-%m-%d %H:%M} · {v.reason}').classes('text-sm text-gray-600')
            if v.version > 1:
                ui.button(
                    f'Diff with v{v.version - 1}', icon='difference', on_click=lambda _, n=v.version: on_diff(n - 1, n)
                ).props('flat dense no-caps').mark('version-diff')


def diff_table(changes: Sequence[Change]) -> None:
    if not changes:
        ui.label('No differences.').classes('text-sm')
    for c in changes:
        with ui.row().classes('gap-2 items-start w-full').mark('diff-change'):
            ui.label(c.field).classes('font-semibold w-32 text-sm')
            ui.label(c.before).classes('text-sm text-negative w-64 whitespace-pre-wrap')
            ui.label('→').classes('text-sm')
            ui.label(c.after).classes('text-sm text-positive w-64 whitespace-pre-wrap')
