"""References (J02): the hub page and what every reference page shares: sub-navigation, gallery and upload wiring."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from nicegui import ui

from components.gallery import Facets, GalleryBrowser
from components.theme import frame, stat_card
from components.upload import UploadBox
from models.assets import AssetRead
from models.project import ProjectRead
from pages.common import project_or_hint, project_slugs
from services import assets, characters, prompts, reference_sets, scenes, style_guides
from services.assets import AssetFilter, AssetPage, UploadResult
from services.deps import Deps
from services.errors import NotFound

PAGE_SIZE = 48
SECTIONS = (
    ('Characters', '/references/characters', 'characters'),
    ('Style guides', '/references/style-guides', 'style-guides'),
    ('Scenes', '/references/scenes', 'scenes'),
    ('Reference sets', '/references/sets', 'sets'),
    ('Prompt templates', '/references/prompts', 'prompts'),
    ('Gallery', '/gallery', 'gallery'),
    ('Bootstrap', '/bootstrap', 'bootstrap'),
)


def split_list(text: str | None) -> list[str]:
    """'a, b  c' style inputs (palettes, outfits, props) become clean lists."""
    return [p.strip() for p in (text or '').replace('\n', ',').split(',') if p.strip()]


def section_nav(active: str) -> None:
    with ui.row().classes('gap-1 flex-wrap'):
        for label, href, key in SECTIONS:
            ui.button(label, on_click=lambda h=href: ui.navigate.to(h)).props(
                'unelevated no-caps' if key == active else 'flat no-caps'
            ).mark(f'ref-nav-{key}')


@contextmanager
def reference_frame(deps: Deps, title: str, active: str) -> Iterator[ProjectRead | None]:
    """The frame, the sub-navigation and the current project, or a hint to pick one (then the page stops)."""
    with frame(title, project_slugs=project_slugs(deps)):
        section_nav(active)
        yield project_or_hint(deps)


def gallery_for(
    deps: Deps, project: ProjectRead, *, base: AssetFilter | None = None, filters: bool = True, columns: int = 6
) -> GalleryBrowser:
    """A paged, filterable gallery of this project's images, with lineage in the lightbox."""

    def fetch(flt: AssetFilter, page: int) -> AssetPage:
        with deps.sessions() as s:
            return assets.list_assets(s, project.id, flt, page=page, page_size=PAGE_SIZE)

    def lineage(asset_id: str) -> dict[str, list[dict]]:
        with deps.sessions() as s:
            return assets.lineage(s, project.id, asset_id)

    def resolve(asset_id: str) -> AssetRead | None:
        with suppress(NotFound), deps.sessions() as s:
            return assets.read(assets.get_asset(s, project.id, asset_id))
        return None

    facets = None
    if filters:
        with deps.sessions() as s:
            facets = Facets(
                characters={c.id: c.name for c in characters.list_characters(s, project.id)},
                scenes={sc.id: sc.name for sc in scenes.list_scenes(s, project.id)},
            )
    return GalleryBrowser(
        project.slug, fetch, facets=facets, base=base, lineage=lineage, resolve=resolve, columns=columns
    )


def upload_box(deps: Deps, project: ProjectRead, *, on_done: Any = None, mark: str = 'upload', **kw: Any) -> UploadBox:
    """Upload into the project with fixed tags (kind, scene, ...); each file is judged alone."""

    def ingest(files: list[tuple[str, bytes]]) -> Sequence[UploadResult]:
        with deps.sessions() as s:
            return deps.store.upload_many(s, project, files, **kw)

    return UploadBox(ingest, on_done=on_done, mark=mark)


def register(deps: Deps) -> None:
    """Declare /references and every reference page, so the app wires one module."""
    from pages import bootstrap, character_detail, gallery, prompt_templates
    from pages import characters as characters_page
    from pages import reference_sets as sets_page
    from pages import scenes as scenes_page
    from pages import style_guides as guides_page

    for module in (characters_page, character_detail, guides_page, scenes_page, sets_page, prompt_templates):
        module.register(deps)
    gallery.register(deps)
    bootstrap.register(deps)

    @ui.page('/references')
    def references_page() -> None:
        with reference_frame(deps, 'References', 'references') as project:
            if project is None:
                return
            with deps.sessions() as s:
                counts = {
                    'Characters': len(characters.list_characters(s, project.id)),
                    'Style guides': len(style_guides.list_style_guides(s, project.id)),
                    'Scenes': len(scenes.list_scenes(s, project.id)),
                    'Reference sets': len(reference_sets.list_sets(s, project.id)),
                    'Prompt templates': len(prompts.list_templates(s, project.id)),
                }
            ui.label(f'References · {project.name}').classes('text-2xl font-semibold')
            with ui.row().classes('gap-4'):
                for label, n in counts.items():
                    stat_card(label, str(n), mark=f'count-{label.lower().replace(" ", "-")}')
            ui.label('Upload references').classes('text-lg font-semibold')
            upload_box(deps, project, on_done=lambda _: grid.refresh())
            grid = gallery_for(deps, project)
