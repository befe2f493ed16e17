"""Gallery grid with paging and a lightbox with keyboard navigation; it takes read models and callbacks only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from nicegui import events, ui

from models.assets import AssetRead
from models.base import AssetKind, ReviewState, Stage
from services.projects.assets import AssetFilter, AssetPage


def thumb_url(slug: str, asset_id: str) -> str:
    return f'/media/{slug}/{asset_id}/thumb'


def image_url(slug: str, asset_id: str) -> str:
    return f'/media/{slug}/{asset_id}'


UPLOADED_KINDS = (AssetKind.reference, AssetKind.style, AssetKind.scene, AssetKind.character)


def status_label(a: AssetRead) -> str:
    """An uploaded reference was never generated or reviewed: it says what it is, not the review default."""
    return f'{a.kind.value} reference (uploaded)' if a.kind in UPLOADED_KINDS else a.status.value


ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


class Lightbox:
    """A full-size viewer with zoom (+/− keys or buttons, 0 fits): ←/→ move, Esc closes; size, hash and lineage."""

    def __init__(
        self,
        slug: str,
        details: Callable[[str], dict] | None = None,
        *,
        lineage: Callable[[str], dict[str, list[dict]]] | None = None,
        resolve: Callable[[str], AssetRead | None] | None = None,
    ) -> None:
        self.slug = slug
        self.details = details
        self.lineage = lineage
        self.resolve = resolve
        self.assets: list[AssetRead] = []
        self.index = 0
        self.zoom = 1.0
        ui.keyboard(self._on_key).mark('lightbox-keys')
        with (
            ui.dialog().props('maximized') as self.dialog,
            ui.card().classes('w-full h-full items-center bg-black text-white'),
        ):
            with ui.row().classes('w-full items-center'):
                self.caption = ui.label().classes('text-sm').mark('lightbox-caption')
                ui.space()
                for icon, step, mark in (('zoom_out', -1, 'out'), ('fit_screen', 0, 'fit'), ('zoom_in', 1, 'in')):
                    ui.button(icon=icon, on_click=lambda _, k=step: self.step_zoom(k)).props(
                        'flat round color=white'
                    ).mark(f'lightbox-zoom-{mark}')
                self.zoom_label = ui.label('fit').classes('text-sm w-12').mark('lightbox-zoom-level')
                ui.button(icon='close', on_click=self.dialog.close).props('flat round color=white').mark(
                    'lightbox-close'
                )
            with ui.element('div').classes('w-full grow overflow-auto').style('min-height:0') as self.viewport:
                self.image = ui.image().props('fit=contain no-spinner').mark('lightbox-image')
            self.meta = ui.label().classes('text-xs text-gray-300').mark('lightbox-meta')
            self.links = ui.row().classes('items-center gap-1 text-xs').mark('lightbox-links')

    def open(self, assets: Sequence[AssetRead], index: int) -> None:
        self.assets, self.index = list(assets), index
        self._show()
        self.dialog.open()

    def step_zoom(self, step: int) -> None:
        """Zoom in or out one step (0 fits the window); past 100 % the viewer scrolls."""
        if step == 0:
            self.zoom = 1.0
        else:
            i = min(range(len(ZOOMS)), key=lambda k: abs(ZOOMS[k] - self.zoom))
            self.zoom = ZOOMS[max(0, min(len(ZOOMS) - 1, i + step))]
        self._apply_zoom()

    def _apply_zoom(self) -> None:
        size = f'{self.zoom * 100:g}%'
        self.image.style(f'width:{size};height:{size};max-width:none')
        self.zoom_label.set_text('fit' if self.zoom == 1.0 else f'×{self.zoom:g}')

    def _show(self) -> None:
        a = self.assets[self.index]
        self.zoom = 1.0
        self._apply_zoom()
        self.image.set_source(image_url(self.slug, a.id))
        self.caption.set_text(
            f'{self.index + 1}/{len(self.assets)} · {a.original_name or a.kind.value} · {a.width}×{a.height}'
        )
        extra = self.details(a.id) if self.details else {}
        links = ' · '.join(f'{k}: {", ".join(v)}' for k, v in extra.items() if v)
        facts = [status_label(a), a.stage or '', ', '.join(a.tags), f'{a.size_bytes / 1024:.0f} KB']
        if a.kind not in UPLOADED_KINDS:
            facts.insert(0, a.kind.value)
        self.meta.set_text(' · '.join(f for f in facts if f) + f' · sha256 {a.sha256} {links}'.rstrip())
        self._show_links(a.id)

    def _show_links(self, asset_id: str) -> None:
        """Parents and children are buttons: following one shows that image, so a lineage can be walked."""
        self.links.clear()
        family = self.lineage(asset_id) if self.lineage else {}
        with self.links:
            for side, arrow in (('parents', '←'), ('children', '→')):
                for link in family.get(side, []):
                    ui.button(
                        f'{arrow} {link["relation"]} {link["asset_id"][:8]}',
                        on_click=lambda _, i=link['asset_id']: self._follow(i),
                    ).props('flat dense no-caps color=white size=sm').mark('lineage-link')

    def _follow(self, asset_id: str) -> None:
        found = self.resolve(asset_id) if self.resolve else None
        if found is not None:
            self.open([found], 0)

    def _on_key(self, e: events.KeyEventArguments) -> None:
        if not self.dialog.value or not e.action.keydown or not self.assets:
            return
        if e.key.arrow_right:
            self.index = (self.index + 1) % len(self.assets)
            self._show()
        elif e.key.arrow_left:
            self.index = (self.index - 1) % len(self.assets)
            self._show()
        elif e.key.escape:
            self.dialog.close()
        elif e.key.name in ('+', '='):
            self.step_zoom(1)
        elif e.key.name in ('-', '_'):
            self.step_zoom(-1)
        elif e.key.name == '0':
            self.step_zoom(0)


def gallery_grid(
    slug: str,
    assets: Sequence[AssetRead],
    *,
    lightbox: Lightbox | None = None,
    columns: int = 6,
    on_select: Callable[[AssetRead], None] | None = None,
) -> ui.grid:
    """Thumbnails that load lazily in the browser; clicking opens the lightbox (or calls on_select)."""
    with ui.grid(columns=columns).classes('w-full gap-2').mark('gallery-grid') as grid:
        for i, a in enumerate(assets):

            def click(_: object, i: int = i, a: AssetRead = a) -> None:
                if on_select:
                    on_select(a)
                elif lightbox:
                    lightbox.open(assets, i)

            with ui.card().tight().classes('cursor-pointer').on('click', click).mark('gallery-item'):
                ui.image(thumb_url(slug, a.id)).props(
                    'loading=lazy ratio=1 fit=cover no-spinner no-transition'
                ).classes('w-full')
                ui.label(a.original_name or a.kind.value).classes('text-xs px-1 truncate w-full')
    return grid


def palette_swatches(colours: Sequence[str], *, size: str = 'w-5 h-5') -> ui.row:
    """A hex palette as coloured squares with the code on hover, so artists see colours rather than text."""
    with ui.row().classes('gap-1 items-center').mark('palette-swatches') as row:
        for colour in colours:
            ui.element('div').classes(f'{size} rounded border border-gray-300').style(f'background: {colour}').tooltip(
                colour
            )
    return row


@dataclass(frozen=True)
class Facets:
    """The choices the filter row offers; ids map to display names."""

    characters: dict[str, str] = field(default_factory=dict)
    scenes: dict[str, str] = field(default_factory=dict)
    kinds: tuple[str, ...] = tuple(k.value for k in AssetKind)
    stages: tuple[str, ...] = tuple(s.value for s in Stage)
    statuses: tuple[str, ...] = tuple(s.value for s in ReviewState)


class GalleryBrowser:
    """Filters, a paged thumbnail grid and a lightbox; fetch(filter, page) returns one page, so 10,000 images stay fast."""

    def __init__(
        self,
        slug: str,
        fetch: Callable[[AssetFilter, int], AssetPage],
        *,
        facets: Facets | None = None,
        base: AssetFilter | None = None,
        lineage: Callable[[str], dict[str, list[dict]]] | None = None,
        resolve: Callable[[str], AssetRead | None] | None = None,
        columns: int = 6,
        mark: str = 'gallery',
    ) -> None:
        self.slug, self.fetch, self.columns, self.mark = slug, fetch, columns, mark
        self.filter = base or AssetFilter()
        self.page = 0
        self.lightbox = Lightbox(slug, lineage=lineage, resolve=resolve)
        if facets is not None:
            self._filter_row(facets)
        self.body = ui.column().classes('w-full gap-2')
        self.refresh()

    def _filter_row(self, f: Facets) -> None:
        with ui.row().classes('items-end gap-2 flex-wrap'):
            for key, label, options in (
                ('kind', 'Kind', {k: k for k in f.kinds}),
                ('character_id', 'Character', f.characters),
                ('scene_id', 'Scene', f.scenes),
                ('stage', 'Stage', {s: s for s in f.stages}),
                ('status', 'Status', {s: s for s in f.statuses}),
            ):
                if options:
                    ui.select(
                        options,
                        label=label,
                        clearable=True,
                        value=getattr(self.filter, key),
                        on_change=lambda e, k=key: self.set_filter(**{k: e.value or None}),
                    ).classes('w-36').props('dense').mark(f'{self.mark}-filter-{key.removesuffix("_id")}')
            ui.input('Tag', on_change=lambda e: self.set_filter(tag=(e.value or '').strip() or None)).classes(
                'w-32'
            ).props('dense debounce=400').mark(f'{self.mark}-filter-tag')

    def set_filter(self, **changes: object) -> None:
        self.filter = replace(self.filter, **changes)
        self.page = 0
        self.refresh()

    def go(self, delta: int) -> None:
        self.page = max(0, self.page + delta)
        self.refresh()

    def refresh(self) -> None:
        """Fetch and draw the current page only; the caller's fetch runs one indexed query and one count."""
        result = self.fetch(self.filter, self.page)
        pages = max(1, -(-result.total // result.page_size))
        if self.page >= pages:
            self.page = pages - 1
            result = self.fetch(self.filter, self.page)
        self.body.clear()
        with self.body:
            with ui.row().classes('items-center gap-2'):
                prev = ui.button(icon='chevron_left', on_click=lambda: self.go(-1)).props('flat dense round')
                prev.mark(f'{self.mark}-prev').set_enabled(self.page > 0)
                ui.label(f'Page {self.page + 1} of {pages} · {result.total:,} images').classes('text-sm').mark(
                    f'{self.mark}-pager'
                )
                nxt = ui.button(icon='chevron_right', on_click=lambda: self.go(1)).props('flat dense round')
                nxt.mark(f'{self.mark}-next').set_enabled(self.page + 1 < pages)
            if not result.items:
                ui.label('No images match.').classes('text-gray-500').mark(f'{self.mark}-empty')
            gallery_grid(self.slug, result.items, lightbox=self.lightbox, columns=self.columns)
