"""What pages share: the header's project picker and current project, and the reference pages' frame, gallery and upload."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from nicegui import ui

from components.gallery import Facets, GalleryBrowser
from components.theme import current_project, frame
from components.upload import UploadBox
from models.assets import AssetRead
from models.project import ProjectRead
from services.deps import Deps
from services.errors import NotFound
from services.projects import assets, projects
from services.projects.assets import AssetFilter, AssetPage, UploadResult
from services.references import characters, scenes


def project_slugs(deps: Deps) -> list[str]:
    """The header picker offers the active projects only."""
    with deps.sessions() as s:
        return [r.project.slug for r in projects.list_projects(s)]


def picked_project(deps: Deps) -> ProjectRead | None:
    """The picker keeps only a slug, which may name a project deleted since; that counts as no pick."""
    slug = current_project()
    if not slug:
        return None
    with suppress(NotFound), deps.sessions() as s:
        return projects.get_project(s, slug)
    return None


def project_or_hint(deps: Deps) -> ProjectRead | None:
    """A page that needs a project says how to get one instead of failing."""
    project = picked_project(deps)
    if project is None:
        ui.label('Pick a project at the top right first.').classes('text-gray-600').mark('pick-project')
    return project


@contextmanager
def project_frame(deps: Deps, title: str) -> Iterator[ProjectRead | None]:
    """The frame with the picker; yields the current project, or None after the hint (then the page stops)."""
    with frame(title, project_slugs=project_slugs(deps)):
        yield project_or_hint(deps)


def not_found_page(deps: Deps, title: str, message: str) -> None:
    """An unknown project, run or review URL gets the studio frame and a way back, never an error page."""
    with frame(title, project_slugs=project_slugs(deps)):
        ui.label(message).classes('text-xl').mark('not-found')
        ui.label('It may have been deleted or archived, or the address has a typo.').classes('text-gray-600')
        ui.button('Back to projects', icon='folder', on_click=lambda: ui.navigate.to('/')).mark('not-found-home')


PAGE_SIZE = 48
SECTIONS = (
    ('Characters', '/references/characters', 'characters'),
    ('Style guides', '/references/style-guides', 'style-guides'),
    ('Scenes', '/references/scenes', 'scenes'),
    ('Continuity', '/references/continuity', 'continuity'),
    ('Reference sets', '/references/sets', 'sets'),
    ('Prompt templates', '/references/prompts', 'prompts'),
    ('Gallery', '/gallery', 'gallery'),
    ('Bootstrap', '/bootstrap', 'bootstrap'),
)


def split_list(text: str | None) -> list[str]:
    """'a, b  c' style inputs (palettes, outfits, props) become clean lists."""
    return [p.strip() for p in (text or '').replace('\n', ',').split(',') if p.strip()]


def character_fields(name: ui.input, bible: ui.textarea, palette: ui.input, outfits: ui.input) -> dict[str, Any]:
    """A character form's inputs as CharacterCreate / CharacterUpdate fields (the new-character dialog and the editor)."""
    return {
        'name': name.value or '',
        'bible': bible.value or '',
        'palette': split_list(palette.value),
        'outfits': split_list(outfits.value),
    }


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
