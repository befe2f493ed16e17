"""Scenes (J02): reference image, description, chapter and continuity (time, weather, props, characters present)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nicegui import ui

from components.continuity_views import state_view
from components.errors import notify_errors
from components.gallery import thumb_url
from components.upload import UploadBox
from models.base import AssetKind
from models.references import FRAMINGS, SceneCreate, SceneRead, SceneUpdate
from pages.common import reference_frame, split_list
from services.deps import Deps
from services.errors import parse
from services.projects import assets
from services.projects.assets import AssetFilter, UploadResult
from services.references import characters, ledger_state, scenes
from services.references.scenes import TIMES, WEATHERS


def continuity_text(c: dict[str, Any]) -> str:
    bits = [c.get('time'), c.get('weather'), ', '.join(c.get('props', [])), ', '.join(c.get('characters', []))]
    bits.append(c.get('framing'))
    return ' · '.join(b for b in bits if b) or 'no continuity yet'


def register(deps: Deps) -> None:
    @ui.page('/references/scenes')
    def scenes_page() -> None:
        with reference_frame(deps, 'Scenes', 'scenes') as project:
            if project is None:
                return
            with deps.sessions() as s:
                names = [c.name for c in characters.list_characters(s, project.id)]
            editing: dict[str, str | None] = {'id': None}
            with ui.row().classes('items-center w-full'):
                ui.label(f'Scenes · {project.name}').classes('text-2xl font-semibold')
                ui.space()
                ui.button(
                    'Ledger', icon='history_edu', on_click=lambda: ui.navigate.to('/references/continuity')
                ).props('flat').mark('open-ledger')
                ui.button('New scene', icon='add', on_click=lambda: edit(None)).mark('new-scene')

            @ui.refreshable
            def listing() -> None:
                with deps.sessions() as s:
                    rows = scenes.list_scenes(s, project.id)
                    states = ledger_state.all_states(s, project.id)  # what holds in each scene, with sources
                if not rows:
                    ui.label('No scenes yet.').classes('text-gray-500').mark('no-scenes')
                for sc in rows:
                    with ui.card().classes('w-full max-w-4xl').mark(f'scene-card-{sc.name.lower().replace(" ", "-")}'):
                        with ui.row().classes('w-full no-wrap gap-4'):
                            if sc.reference_asset_id:
                                ui.image(thumb_url(project.slug, sc.reference_asset_id)).classes('w-40').props(
                                    'ratio=1'
                                )
                            else:
                                ui.label('No reference image').classes('w-40 text-gray-400 text-sm')
                            with ui.column().classes('grow gap-1'):
                                ui.label(f'{sc.name} · chapter {sc.chapter or "—"}').classes('text-lg font-semibold')
                                ui.label(sc.description).classes('text-sm text-gray-700')
                                ui.label(continuity_text(sc.continuity)).classes('text-xs').mark('scene-continuity')
                                with ui.expansion(f'Ledger · {states[sc.id].where}').classes('text-xs w-full'):
                                    state_view(states[sc.id])
                            ui.button(icon='edit', on_click=lambda _, sc=sc: edit(sc)).props('flat round').mark(
                                'edit-scene'
                            )

            listing()
            with ui.dialog() as dialog, ui.card().classes('w-[40rem]'):
                name = ui.input('Name').classes('w-full').mark('scene-name')
                desc = ui.textarea('Description').classes('w-full').mark('scene-description')
                with ui.row().classes('w-full gap-2'):
                    chapter = ui.number('Chapter', min=0, precision=0).classes('w-28').mark('scene-chapter')
                    time_sel = ui.select(list(TIMES), label='Time', clearable=True).classes('w-28').mark('scene-time')
                    weather = ui.select(list(WEATHERS), label='Weather', clearable=True).classes('w-28')
                    weather.mark('scene-weather')
                    framing = ui.select(list(FRAMINGS), label='Framing', clearable=True).classes('w-28')
                    framing.mark('scene-framing')
                props_in = ui.input('Props', placeholder='lantern, rope').classes('w-full').mark('scene-props')
                present = ui.select(names, label='Characters present', multiple=True).classes('w-full')
                present.props('use-chips').mark('scene-characters')
                reference = ui.select({}, label='Reference image', clearable=True).classes('w-full')
                reference.mark('scene-reference')

                def ingest(files: list[tuple[str, bytes]]) -> Sequence[UploadResult]:
                    with deps.sessions() as s:
                        return deps.store.upload_many(s, project, files, kind=AssetKind.scene, tags=['scene'])

                def uploaded(results: Sequence[UploadResult]) -> None:
                    load_references()
                    got = [r.asset.id for r in results if r.asset]
                    if got:
                        reference.value = got[0]

                UploadBox(ingest, on_done=uploaded, mark='scene-upload')

                @notify_errors
                def save() -> None:
                    fields = {
                        'name': name.value or '',
                        'description': desc.value or '',
                        'chapter': int(chapter.value) if chapter.value is not None else None,
                        'continuity': {
                            k: v
                            for k, v in {
                                'time': time_sel.value,
                                'weather': weather.value,
                                'props': split_list(props_in.value),
                                'characters': list(present.value or []),
                                'framing': framing.value,
                            }.items()
                            if v
                        },
                        'reference_asset_id': reference.value or None,
                    }
                    with deps.sessions() as s:
                        if editing['id']:
                            scenes.update_scene(s, project.id, editing['id'], parse(SceneUpdate, fields))
                        else:
                            scenes.create_scene(s, project.id, parse(SceneCreate, fields))
                    ui.notify(f'Scene {fields["name"]} saved', type='positive')
                    dialog.close()
                    listing.refresh()

                with ui.row().classes('w-full justify-end'):
                    ui.button('Cancel', on_click=dialog.close).props('flat')
                    ui.button('Save', icon='save', on_click=save).mark('save-scene')

            def load_references() -> None:
                with deps.sessions() as s:
                    page = assets.list_assets(s, project.id, AssetFilter(kind=AssetKind.scene.value), page_size=500)
                reference.set_options({a.id: a.original_name or a.id[:8] for a in page.items})

            def edit(sc: SceneRead | None) -> None:
                load_references()
                editing['id'] = sc.id if sc else None
                c = sc.continuity if sc else {}
                name.value, desc.value = (sc.name, sc.description) if sc else ('', '')
                chapter.value = sc.chapter if sc else None
                time_sel.value, weather.value, framing.value = c.get('time'), c.get('weather'), c.get('framing')
                props_in.value = ', '.join(c.get('props', []))
                present.set_options(sorted(set(names) | set(c.get('characters', []))))
                present.value = list(c.get('characters', []))
                reference.value = sc.reference_asset_id if sc else None
                dialog.open()
