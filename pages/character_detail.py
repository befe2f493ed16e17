"""One character (J02): edit the bible, palette, outfits and their colours; references tagged by angle, outfit and
shot, each pinned or excluded for the planner; the bible's versions with a one-click diff."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from components.errors import notify_errors
from components.gallery import Lightbox, palette_swatches, thumb_url
from components.upload import UploadBox
from models.project import ProjectRead
from models.references import SHOT_TAGS, CharacterReferenceTags, CharacterUpdate
from pages.character_bible import outfit_colours_text, parse_outfit_colours, versions_section
from pages.common import character_fields, reference_frame, split_list
from services.deps import Deps
from services.errors import NotFound, parse
from services.projects import assets
from services.projects.assets import UploadResult
from services.qa.calibration import IdentityBand
from services.references import characters, identity_bands
from services.references.characters import ANGLES


def register(deps: Deps) -> None:
    @ui.page('/references/characters/{character_id}')
    def character_page(character_id: str) -> None:
        with reference_frame(deps, 'Character', 'characters') as project:
            if project is None:
                return
            try:
                with deps.sessions() as s:
                    char = characters.get_character(s, project.id, character_id)
            except NotFound as e:
                ui.label(e.user_message).classes('text-negative').mark('character-missing')
                return
            ui.label(char.name).classes('text-2xl font-semibold').mark('character-title')
            with ui.card().classes('w-full max-w-3xl'):
                name = ui.input('Name', value=char.name).classes('w-full').mark('edit-name')
                bible = ui.textarea('Bible', value=char.bible).classes('w-full').mark('edit-bible')
                palette = ui.input('Palette (hex, comma separated)', value=', '.join(char.palette)).classes('w-full')
                palette.mark('edit-palette')
                swatches = ui.row()
                outfits = ui.input('Outfits', value=', '.join(char.outfits)).classes('w-full').mark('edit-outfits')
                colours = ui.textarea('Outfit colours (one outfit a line: raincoat: #f2c200, #333333)')
                colours.classes('w-full').props('autogrow').mark('edit-outfit-colours')
                colours.value = outfit_colours_text(char.outfit_palettes)

                def show_swatches() -> None:
                    swatches.clear()
                    with swatches:
                        palette_swatches([c for c in split_list(palette.value) if c.startswith('#')])

                palette.on_value_change(show_swatches)
                show_swatches()

                @notify_errors
                def save() -> None:
                    fields = character_fields(name, bible, palette, outfits)
                    data = parse(CharacterUpdate, fields, outfit_palettes=parse_outfit_colours(colours.value))
                    with deps.sessions() as s:
                        saved = characters.update_character(s, project.id, character_id, data)
                    ui.notify(f'Character saved (bible v{saved.version})', type='positive')
                    shown['versions'].refresh()

                @notify_errors
                def delete() -> None:
                    with deps.sessions() as s:
                        characters.delete_character(s, project.id, character_id)
                    ui.navigate.to('/references/characters')

                with ui.row():
                    ui.button('Save', icon='save', on_click=save).mark('save-character')
                    ui.button('Delete', icon='delete', on_click=delete).props('outline color=negative').mark(
                        'delete-character'
                    )
            shown: dict = {}  # the versions list, refreshed after every change that makes a version
            references_section(
                deps, project, character_id, split_list(outfits.value), lambda: shown['versions'].refresh()
            )
            shown['versions'] = versions_section(deps, project, character_id)


def references_section(
    deps: Deps, project: ProjectRead, character_id: str, outfits: list[str], changed: Callable[[], None]
) -> None:
    """Reference images by angle, each removable; new uploads get the chosen angle, expression and outfit."""
    ui.label('Reference images').classes('text-lg font-semibold')
    with ui.row().classes('items-end gap-2'):
        angle = ui.select(list(ANGLES), value='front', label='Angle').classes('w-40').mark('upload-angle')
        expression = ui.input('Expression', placeholder='smiling').classes('w-40').mark('upload-expression')
        outfit = ui.select(outfits, label='Outfit', new_value_mode='add-unique', clearable=True).classes('w-40')
        outfit.mark('upload-outfit')
        shot = ui.select({t: t or 'not tagged' for t in SHOT_TAGS}, value='', label='Shot').classes('w-32')
        shot.mark('upload-shot')

    def ingest(files: list[tuple[str, bytes]]) -> Sequence[UploadResult]:
        tags = parse(
            CharacterReferenceTags,
            angle=angle.value,
            expression=expression.value or '',
            outfit=outfit.value or '',
            shot=shot.value or '',
        )
        with deps.sessions() as s:
            return characters.upload_references(s, deps.store, project, character_id, files, tags)

    UploadBox(ingest, on_done=lambda _: (refs.refresh(), changed()), mark='character-upload')
    box = Lightbox(project.slug)

    @ui.refreshable
    def refs() -> None:
        with deps.sessions() as s:
            band, images = identity_bands.character_band(s, deps.store, project, character_id)
            name = characters.get_character(s, project.id, character_id).name
            tagged = characters.list_references(s, project.id, character_id)
            reads = {
                a.id: a
                for a in assets.list_assets(
                    s, project.id, assets.AssetFilter(ids=[r.asset_id for r in tagged]), page_size=500
                ).items
            }
        identity_note(band, name, images)
        if not tagged:
            ui.label('No reference images yet.').classes('text-gray-500').mark('no-references')
        ordered = [reads[r.asset_id] for r in tagged if r.asset_id in reads]
        with ui.grid(columns=6).classes('w-full gap-2'):
            for i, ref in enumerate(tagged):
                with ui.card().tight().mark('character-ref'):
                    ui.image(thumb_url(project.slug, ref.asset_id)).props('loading=lazy ratio=1 fit=cover').classes(
                        'w-full cursor-pointer'
                    ).on('click', lambda _, i=i: box.open(ordered, i))
                    tags = ' · '.join(t for t in (ref.angle, ref.shot, ref.expression, ref.outfit) if t)
                    with ui.row().classes('items-center w-full px-1'):
                        ui.label(tags).classes('text-xs').mark('ref-tags')
                        ui.space()
                        for choice, icon in (('pin', 'push_pin'), ('exclude', 'block')):
                            on = ref.choice == choice
                            ui.button(
                                icon=icon, on_click=lambda _, a=ref.asset_id, c=('auto' if on else choice): pick(a, c)
                            ).props(f'flat dense round size=sm {"color=accent" if on else ""}').mark(
                                f'{choice}-ref'
                            ).tooltip(f'{"Undo " if on else ""}{choice} for the planner')
                        ui.button(icon='link_off', on_click=lambda _, a=ref.asset_id: unlink(a)).props(
                            'flat dense round size=sm'
                        ).mark('unlink-ref').tooltip('Remove from this character')

    @notify_errors
    def pick(asset_id: str, choice: str) -> None:
        with deps.sessions() as s:
            characters.pick_reference(s, project.id, character_id, asset_id, choice)
        refs.refresh()
        changed()

    @notify_errors
    def unlink(asset_id: str) -> None:
        with deps.sessions() as s:
            characters.remove_reference(s, project.id, character_id, asset_id)
        refs.refresh()
        changed()

    refs()


def identity_note(band: IdentityBand, name: str, images: int) -> None:
    """What face QA will accept for this character, and from what it was calibrated."""
    with ui.row().classes('items-center gap-2'):
        ui.icon('face').classes('text-gray-500')
        ui.label(band.describe(name)).classes('text-sm').mark('identity-band')
    if images > band.references:
        missing = images - band.references
        ui.label(f'{missing} reference image(s) show no face the identity check can find.').classes(
            'text-xs text-gray-500'
        ).mark('identity-band-noface')
    if band.references_disagree:
        ui.label(
            f'These references are far apart ({band.spread:.2f}): check they all show {name}; '
            'the identity check uses the project default until they agree.'
        ).classes('text-xs text-warning').mark('identity-band-disagree')
