"""Gallery: every image of the project, filtered and paged, with upload and a lightbox that walks lineage."""

from __future__ import annotations

from nicegui import ui

from models.base import AssetKind
from pages.common import gallery_for, reference_frame, upload_box
from services.deps import Deps

KINDS = [AssetKind.reference.value, AssetKind.scene.value, AssetKind.style.value, AssetKind.character.value]


def register(deps: Deps) -> None:
    @ui.page('/gallery')
    def gallery_page() -> None:
        with reference_frame(deps, 'Gallery', 'gallery') as project:
            if project is None:
                return
            ui.label(f'Gallery · {project.name}').classes('text-2xl font-semibold')
            with ui.expansion('Upload images', icon='upload').classes('w-full max-w-xl').mark('gallery-upload-panel'):
                kind = ui.select(KINDS, value='reference', label='Upload as').classes('w-40').mark('upload-kind')

                @ui.refreshable
                def box() -> None:
                    upload_box(
                        deps,
                        project,
                        kind=AssetKind(kind.value),
                        tags=[kind.value],
                        on_done=lambda _: browser.refresh(),
                        mark='gallery-upload',
                    )

                kind.on_value_change(box.refresh)
                box()
            browser = gallery_for(deps, project, columns=8)
