"""The continuity ledger (J02): changes written once in story order; each scene's derived state shows beside them."""

from __future__ import annotations

from nicegui import ui

from components.continuity_views import state_view
from components.errors import notify_errors
from models.continuity import FIELDS, OPS, ContinuityEventCreate
from pages.common import reference_frame, split_list
from services.deps import Deps
from services.errors import parse
from services.references import characters, ledger, ledger_state
from services.references.ledger_state import where_of


def register(deps: Deps) -> None:
    @ui.page('/references/continuity')
    def continuity_page() -> None:
        with reference_frame(deps, 'Continuity', 'continuity') as project:
            if project is None:
                return
            with deps.sessions() as s:
                order = ledger.story_order(s, project.id)
                place = ledger.positions(order)
                names = [c.name for c in characters.list_characters(s, project.id)]
            scene_options = {sc.id: where_of(sc.chapter, place[sc.id], sc.name) for sc in order}
            ui.label(f'Continuity ledger · {project.name}').classes('text-2xl font-semibold')
            ui.label('A change holds from its scene (and panel) on, until another change.').classes('text-gray-600')
            with ui.card().classes('w-full max-w-4xl'), ui.row().classes('items-end gap-2 w-full'):
                scene = ui.select(scene_options, label='Scene').classes('w-72').mark('ledger-scene')
                panel = ui.number('Panel', min=1, precision=0).classes('w-20').mark('ledger-panel')
                who = ui.select(names, label='Character', clearable=True).classes('w-36').mark('ledger-character')
                field = ui.select(list(FIELDS), label='Field', value='time').classes('w-32').mark('ledger-field')
                op = ui.select(list(OPS), label='Change', value='set').classes('w-24').mark('ledger-op')
                value = ui.input('Value', placeholder='night · raincoat · lantern, rope').classes('w-56')
                value.mark('ledger-value-input')
                note = ui.input('Note').classes('grow').mark('ledger-note')

                @notify_errors
                def add() -> None:
                    data = parse(
                        ContinuityEventCreate,
                        scene=scene.value or '',
                        panel=int(panel.value) if panel.value else None,
                        character=who.value or None,
                        field=field.value,
                        op=op.value,
                        value=split_list(value.value),
                        note=note.value or '',
                    )
                    with deps.sessions() as s:
                        row = ledger.add_event(s, project.id, data)
                    ui.notify(f'Recorded: {row.label}', type='positive')
                    value.value, note.value = '', ''
                    events.refresh()

                ui.button('Record', icon='add', on_click=add).mark('add-event')

            @notify_errors
            def remove(event_id: str) -> None:
                with deps.sessions() as s:
                    ledger.remove_event(s, project.id, event_id)
                events.refresh()

            @ui.refreshable
            def events() -> None:
                with deps.sessions() as s:
                    rows = ledger.list_events(s, project.id)
                    states = ledger_state.all_states(s, project.id)
                if not rows:
                    ui.label('No changes recorded yet.').classes('text-gray-500').mark('no-events')
                for sc in order:
                    here = [e for e in rows if e.scene_id == sc.id]
                    with ui.card().classes('w-full max-w-4xl').mark('ledger-scene-card'):
                        ui.label(scene_options[sc.id]).classes('font-semibold')
                        for e in here:
                            with ui.row().classes('items-center gap-2 w-full').mark('ledger-event'):
                                ui.label(e.label.split(': ', 1)[1]).classes('text-sm')
                                if e.panel:
                                    ui.badge(f'panel {e.panel}').props('outline')
                                ui.label(e.note).classes('text-xs text-gray-500')
                                ui.space()
                                ui.button(icon='delete', on_click=lambda _, i=e.id: remove(i)).props(
                                    'flat dense round size=sm'
                                ).mark('remove-event')
                        with ui.expansion('What holds here').classes('text-xs w-full'):
                            state_view(states[sc.id])

            events()
