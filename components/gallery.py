"""Gallery grid with paging and a lightbox with keyboard navigation; it takes read models and callbacks only."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import events, ui

from models.assets import AssetRead


def thumb_url(slug: str, asset_id: str) -> str:
    return f'/media/{slug}/{asset_id}/thumb'


def image_url(slug: str, asset_id: str) -> str:
    return f'/media/{slug}/{asset_id}'


class Lightbox:
    """A full-size viewer: ←/→ move, Esc closes; shows size, hash and lineage from the caller."""

    def __init__(self, slug: str, details: Callable[[str], dict] | None = None) -> None:
        self.slug = slug
        self.details = details
        self.assets: list[AssetRead] = []
        self.index = 0
        ui.keyboard(self._on_key)
        with (
            ui.dialog().props('maximized') as self.dialog,
            ui.card().classes('w-full h-full items-center bg-black text-white'),
        ):
            with ui.row().classes('w-full items-center'):
                self.caption = ui.label().classes('text-sm').mark('lightbox-caption')
                ui.space()
                ui.button(icon='close', on_click=self.dialog.close).props('flat round color=white').mark(
                    'lightbox-close'
                )
            self.image = ui.image().props('fit=contain').classes('w-full grow').mark('lightbox-image')
            self.meta = ui.label().classes('text-xs text-gray-300').mark('lightbox-meta')

    def open(self, assets: Sequence[AssetRead], index: int) -> None:
        self.assets, self.index = list(assets), index
        self._show()
        self.dialog.open()

    def _show(self) -> None:
        a = self.assets[self.index]
        self.image.set_source(image_url(self.slug, a.id))
        self.caption.set_text(
            f'{self.index + 1}/{len(self.assets)} · {a.original_name or a.kind.value} · {a.width}×{a.height}'
        )
        extra = self.details(a.id) if self.details else {}
        links = ' · '.join(f'{k}: {", ".join(v)}' for k, v in extra.items() if v)
        self.meta.set_text(f'{a.kind.value} · {a.size_bytes / 1024:.0f} KB · sha256 {a.sha256[:16]}… {links}')

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
