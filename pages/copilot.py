"""Copilot (/copilot): chat per project; a request becomes an instruction card the artist confirms or cancels."""

from __future__ import annotations

from nicegui import run, ui

from components.errors import notify_errors
from components.instruction_card import instruction_card
from pages.common import project_frame
from services.copilot import chat as copilot
from services.copilot import instructions
from services.deps import Deps


def register(deps: Deps) -> None:
    @ui.page('/copilot')
    def copilot_page() -> None:
        with project_frame(deps, 'Copilot') as project:
            if project is None:
                return
            with deps.sessions() as s:
                chats = copilot.list_sessions(s, project.id)
            current: dict = {'id': chats[0].id if chats else None, 'seen': None}

            def show(chat_id: str | None) -> None:
                current['id'] = chat_id
                chat_list.refresh()
                title_row.refresh()
                history.refresh()

            @notify_errors
            def new_chat() -> None:
                with deps.sessions() as s:
                    show(copilot.create_session(s, project.id).id)

            @notify_errors
            def rename(title: str) -> None:
                with deps.sessions() as s:
                    copilot.rename_session(s, project.id, current['id'], title)
                chat_list.refresh()

            @notify_errors
            def act(what: str, instruction_id: str) -> None:
                with deps.sessions() as s:
                    (instructions.confirm if what == 'confirm' else instructions.cancel)(s, project.id, instruction_id)
                deps.wake.instructions()
                history.refresh()

            @notify_errors
            async def send() -> None:
                text = (box.value or '').strip()
                if not text:
                    return
                if current['id'] is None:
                    new_chat()
                chat_id, box.value = current['id'], ''

                def post() -> copilot.Posted:
                    with deps.sessions() as s:
                        return copilot.post_message(s, project, chat_id, text, secrets=deps.secrets)

                await run.io_bound(post)
                show(chat_id)

            @ui.refreshable
            def chat_list() -> None:
                with deps.sessions() as s:
                    rows = copilot.list_sessions(s, project.id)
                with ui.list().props('dense separator').classes('w-full'):
                    for chat in rows:
                        item = ui.item(chat.title, on_click=lambda c=chat.id: show(c)).mark('chat-session')
                        if chat.id == current['id']:
                            item.classes('bg-blue-50 font-semibold')

            @ui.refreshable
            def title_row() -> None:
                if current['id'] is None:
                    return
                with deps.sessions() as s:
                    chat = next(c for c in copilot.list_sessions(s, project.id) if c.id == current['id'])
                with ui.row().classes('items-center gap-2'):
                    title = ui.input('Title', value=chat.title).classes('w-80').mark('chat-title')
                    ui.button('Rename', on_click=lambda: rename(title.value)).props('flat').mark('rename-chat')

            @ui.refreshable
            def history() -> None:
                if current['id'] is None:
                    ui.label('Ask for a run, a QA check, an export or a backup in your own words.').classes(
                        'text-gray-600'
                    ).mark('chat-empty')
                    return
                with deps.sessions() as s:
                    messages = copilot.history(s, project.id, current['id'])
                    cards = {
                        m.instruction_id: instructions.get_instruction(s, project.id, m.instruction_id)
                        for m in messages
                        if m.instruction_id
                    }
                current['seen'] = tuple((c.id, c.state) for c in cards.values())
                for m in messages:
                    mine = m.role == 'user'
                    ui.chat_message(m.content, name='You' if mine else 'Copilot', sent=mine).classes('w-full').mark(
                        f'chat-{m.role}'
                    )
                    if m.instruction_id:
                        instruction_card(
                            cards[m.instruction_id],
                            on_confirm=lambda i: act('confirm', i),
                            on_cancel=lambda i: act('cancel', i),
                        )

            def poll() -> None:
                """Refresh only when a card on screen changed state, so typing and scrolling are not disturbed."""
                if current['id'] is None or not current['seen']:
                    return
                with deps.sessions() as s:
                    now = tuple((i, instructions.get_instruction(s, project.id, i).state) for i, _ in current['seen'])
                if now != current['seen']:
                    history.refresh()

            with ui.row().classes('w-full no-wrap gap-6 items-start'):
                with ui.column().classes('w-64 shrink-0'):
                    ui.button('New chat', icon='add', on_click=new_chat).mark('new-chat')
                    chat_list()
                with ui.column().classes('grow gap-3'):
                    title_row()
                    history()
                    with ui.row().classes('w-full items-center no-wrap'):
                        box = (
                            ui.input(placeholder='e.g. style lock scenes 1 to 3 with 2 candidates')
                            .classes('grow')
                            .on('keydown.enter', send)
                            .mark('chat-input')
                        )
                        ui.button('Send', icon='send', on_click=send).mark('chat-send')
            ui.timer(1.0, poll)
