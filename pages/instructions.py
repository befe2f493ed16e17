"""Instructions (/instructions): the queue by state, confirm or cancel, and each instruction's event timeline."""

from __future__ import annotations

from nicegui import ui

from components.errors import notify_errors
from components.instruction_card import instruction_card
from pages.common import project_frame
from services.copilot import instructions
from services.deps import Deps

FILTERS = {
    'all': 'All',
    'pending_confirmation': 'Waiting',
    'queued': 'Queued',
    'running': 'Running',
    'done': 'Done',
    'failed': 'Failed',
    'canceled': 'Canceled',
}


def register(deps: Deps) -> None:
    @ui.page('/instructions')
    def instructions_page() -> None:
        with project_frame(deps, 'Instructions') as project:
            if project is None:
                return
            seen: dict = {'key': None}

            def load() -> list[instructions.InstructionView]:
                states = None if filt.value == 'all' else [filt.value]
                with deps.sessions() as s:
                    return instructions.list_instructions(s, project.id, states=states)

            @notify_errors
            def act(what: str, instruction_id: str) -> None:
                with deps.sessions() as s:
                    (instructions.confirm if what == 'confirm' else instructions.cancel)(s, project.id, instruction_id)
                deps.wake.instructions()
                queue.refresh()

            @ui.refreshable
            def queue() -> None:
                items = load()
                with deps.sessions() as s:
                    timelines = {i.id: instructions.list_events(s, project.id, i.id) for i in items}
                seen['key'] = tuple((i.id, i.state, i.updated_at) for i in items)
                if not items:
                    ui.label('Nothing here. Ask the copilot for something to do.').classes('text-gray-600').mark(
                        'no-instructions'
                    )
                for item in items:
                    instruction_card(
                        item,
                        on_confirm=lambda i: act('confirm', i),
                        on_cancel=lambda i: act('cancel', i),
                        events=timelines[item.id],
                    )

            def poll() -> None:
                """Live status without collapsing open timelines: re-render only when something changed."""
                if tuple((i.id, i.state, i.updated_at) for i in load()) != seen['key']:
                    queue.refresh()

            with ui.row().classes('items-center gap-4'):
                ui.label(f'Instruction queue · {project.name}').classes('text-2xl font-semibold')
                ui.button('Copilot', icon='chat', on_click=lambda: ui.navigate.to('/copilot')).props('flat')
            filt = ui.toggle(FILTERS, value='all', on_change=lambda: queue.refresh()).mark('instruction-filter')
            queue()
            ui.timer(1.0, poll)
