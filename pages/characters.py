"""Characters (J02): every character with palette swatches, outfits and reference thumbnails; create new ones."""

from __future__ import annotations

from nicegui import ui

from components.errors import notify_errors
from components.gallery import palette_swatches, thumb_url
from models.references import CharacterCreate, CharacterRead
from pages.common import character_fields, reference_frame
from services.deps import Deps
from services.errors import parse
from services.references import characters


def render_character_cards(slug: str, rows: list[CharacterRead]) -> None:
    if not rows:
        ui.label('No characters yet.').classes('text-gray-500').mark('no-characters')
    with ui.row().classes('gap-4 flex-wrap'):
        for c in rows:
            with (
                ui.card()
                .classes('w-72 cursor-pointer')
                .on('click', lambda _, i=c.id: ui.navigate.to(f'/references/characters/{i}'))
                .mark(f'character-card-{c.name.lower()}')
            ):
                ui.label(c.name).classes('text-lg font-semibold')
                ui.label(c.bible or 'No bible text yet.').classes('text-sm text-gray-600 line-clamp-3')
                palette_swatches(c.palette)
                if c.outfits:
                    ui.label('Outfits: ' + ', '.join(c.outfits)).classes('text-xs')
                with ui.row().classes('gap-1'):
                    for asset_id in c.reference_asset_ids[:4]:
                        ui.image(thumb_url(slug, asset_id)).props('loading=lazy ratio=1 fit=cover').classes('w-14')
                ui.label(f'{len(c.reference_asset_ids)} reference images').classes('text-xs text-gray-500')


def register(deps: Deps) -> None:
    @ui.page('/references/characters')
    def characters_page() -> None:
        with reference_frame(deps, 'Characters', 'characters') as project:
            if project is None:
                return
            with ui.row().classes('items-center w-full'):
                ui.label(f'Characters · {project.name}').classes('text-2xl font-semibold')
                ui.space()
                ui.button('New character', icon='person_add', on_click=lambda: dialog.open()).mark('new-character')

            @ui.refreshable
            def listing() -> None:
                with deps.sessions() as s:
                    render_character_cards(project.slug, characters.list_characters(s, project.id))

            listing()
            with ui.dialog() as dialog, ui.card().classes('w-[32rem]'):
                ui.label('New character').classes('text-lg font-semibold')
                name = ui.input('Name').classes('w-full').mark('character-name')
                bible = ui.textarea('Bible: who they are, how they look').classes('w-full').mark('character-bible')
                palette = (
                    ui.input('Palette', placeholder='#1c2233, #c9a94a').classes('w-full').mark('character-palette')
                )
                outfits = (
                    ui.input('Outfits', placeholder='uniform, raincoat').classes('w-full').mark('character-outfits')
                )

                @notify_errors
                def create() -> None:
                    data = parse(CharacterCreate, character_fields(name, bible, palette, outfits))
                    with deps.sessions() as s:
                        made = characters.create_character(s, project.id, data)
                    ui.notify(f'Character {made.name} created', type='positive')
                    dialog.close()
                    for field in (name, bible, palette, outfits):
                        field.value = ''
                    listing.refresh()

                with ui.row().classes('w-full justify-end'):
                    ui.button('Cancel', on_click=dialog.close).props('flat')
                    ui.button('Create', on_click=create).mark('create-character')
