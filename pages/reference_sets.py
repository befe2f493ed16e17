"""Reference sets (J02): named, ordered groups of images and notes; reorder with up/down, upload straight in."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui
from pydantic import BaseModel

from components.errors import notify_errors
from components.gallery import thumb_url
from components.upload import UploadBox
from models.project import ProjectRead
from models.references import ReferenceSetCreate, ReferenceSetItemCreate, ReferenceSetRead, ReferenceSetUpdate
from pages.common import reference_frame
from services.deps import Deps
from services.errors import parse
from services.projects import assets
from services.projects.assets import UploadResult
from services.references import reference_sets


def set_card(
    deps: Deps, project: ProjectRead, ref: ReferenceSetRead, images: dict[str, str], refresh: Callable
) -> None:
    """One set: its items in order with up/down/remove, a note or an existing image to add, and an upload."""

    def act(fn: Callable[..., object], *args: object, form: tuple[type[BaseModel], dict] | None = None) -> None:
        """Call the service with the project; a form's fields become its input model first (errors notify)."""

        @notify_errors
        def run() -> None:
            data = (parse(*form),) if form else ()
            with deps.sessions() as s:
                fn(s, project.id, *args, *data)
            refresh()

        run()

    with ui.card().classes('w-full max-w-4xl').mark(f'set-card-{ref.name.lower().replace(" ", "-")}'):
        with ui.row().classes('items-end w-full gap-2'):
            name = ui.input('Name', value=ref.name).classes('w-56').mark('set-name')
            desc = ui.input('Description', value=ref.description).classes('grow').mark('set-description')
            ui.button(
                icon='save',
                on_click=lambda: act(
                    reference_sets.update_set,
                    ref.id,
                    form=(ReferenceSetUpdate, {'name': name.value or '', 'description': desc.value or ''}),
                ),
            ).props('flat round').mark('save-set')
            ui.button(icon='delete', on_click=lambda: act(reference_sets.delete_set, ref.id)).props(
                'flat round color=negative'
            ).mark('delete-set')
        for item in ref.items:
            with ui.row().classes('items-center gap-2 w-full').mark('set-item', f'set-item-{item.position + 1}'):
                ui.label(str(item.position + 1)).classes('w-6 text-gray-500')
                if item.asset_id:
                    ui.image(thumb_url(project.slug, item.asset_id)).classes('w-16').props('ratio=1 fit=cover')
                text = item.label or item.original_name or ''
                ui.label(' · '.join(t for t in (text, item.content_text) if t)).classes('grow text-sm').mark(
                    'set-item-text'
                )
                ui.button(
                    icon='arrow_upward', on_click=lambda _, i=item.id: act(reference_sets.move_item, i, -1)
                ).props('flat dense round').mark('item-up')
                ui.button(
                    icon='arrow_downward', on_click=lambda _, i=item.id: act(reference_sets.move_item, i, 1)
                ).props('flat dense round').mark('item-down')
                ui.button(icon='close', on_click=lambda _, i=item.id: act(reference_sets.remove_item, i)).props(
                    'flat dense round'
                ).mark('item-remove')
        with ui.row().classes('items-end gap-2 w-full'):
            note = ui.input('Add a note').classes('w-64').mark('set-note')
            ui.button(
                'Add note',
                on_click=lambda: act(
                    reference_sets.add_item, ref.id, form=(ReferenceSetItemCreate, {'content_text': note.value or ''})
                ),
            ).props('flat').mark('add-note')
            pick = ui.select(images, label='Add an image', with_input=True).classes('w-64').mark('set-pick')
            ui.button(
                'Add image',
                on_click=lambda: act(
                    reference_sets.add_item, ref.id, form=(ReferenceSetItemCreate, {'asset_id': pick.value})
                ),
            ).props('flat').mark('add-image')

        def ingest(files: list[tuple[str, bytes]]) -> Sequence[UploadResult]:
            with deps.sessions() as s:
                results = deps.store.upload_many(s, project, files)
                for r in results:
                    if r.asset:
                        reference_sets.add_item(s, project.id, ref.id, ReferenceSetItemCreate(asset_id=r.asset.id))
                return results

        UploadBox(ingest, on_done=lambda _: refresh(), mark='set-upload', label='Drop images to add them to this set')


def register(deps: Deps) -> None:
    @ui.page('/references/sets')
    def reference_sets_page() -> None:
        with reference_frame(deps, 'Reference sets', 'sets') as project:
            if project is None:
                return
            ui.label(f'Reference sets · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('items-end gap-2'):
                new_name = ui.input('New set name').classes('w-56').mark('new-set-name')
                new_desc = ui.input('Description').classes('w-72').mark('new-set-description')

                @notify_errors
                def create() -> None:
                    data = parse(ReferenceSetCreate, name=new_name.value or '', description=new_desc.value or '')
                    with deps.sessions() as s:
                        reference_sets.create_set(s, project.id, data)
                    new_name.value = new_desc.value = ''
                    listing.refresh()

                ui.button('Create set', icon='add', on_click=create).mark('create-set')

            @ui.refreshable
            def listing() -> None:
                with deps.sessions() as s:
                    rows = reference_sets.list_sets(s, project.id)
                    page = assets.list_assets(s, project.id, page_size=500)
                images = {a.id: a.original_name or a.id[:8] for a in page.items}
                if not rows:
                    ui.label('No reference sets yet.').classes('text-gray-500').mark('no-sets')
                for ref in rows:
                    set_card(deps, project, ref, images, listing.refresh)

            listing()
