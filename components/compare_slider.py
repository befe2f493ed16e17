"""Before/after compare: two images side by side at a divider that a slider drags, on a checkerboard."""

from __future__ import annotations

from nicegui import ui

CHECKERBOARD = (
    'background-color:#fff;background-image:linear-gradient(45deg,#ddd 25%,transparent 25%),'
    'linear-gradient(-45deg,#ddd 25%,transparent 25%),linear-gradient(45deg,transparent 75%,#ddd 75%),'
    'linear-gradient(-45deg,transparent 75%,#ddd 75%);background-size:16px 16px;'
    'background-position:0 0,0 8px,8px -8px,-8px 0'
)  # so a cut-out's transparency is visible, not mistaken for white


class CompareSlider:
    """Before on the left of the divider, after on the right; each is clipped to its side, so a transparent area of
    either shows the checkerboard, never the other image through it."""

    def __init__(self, before: str, after: str, *, height: str = '24rem', position: float = 50) -> None:
        with ui.column().classes('w-full gap-1').mark('compare-slider') as self.root:
            with (
                ui.element('div')
                .classes('relative w-full overflow-hidden rounded')
                .style(f'height:{height};{CHECKERBOARD}')
            ):
                layer = 'absolute inset-0 w-full h-full'
                self.before = ui.image(before).props('fit=contain no-spinner').classes(layer).mark('compare-before')
                self.after = ui.image(after).props('fit=contain no-spinner').classes(layer).mark('compare-after')
                self.divider = ui.element('div').classes('absolute inset-y-0 w-0.5 bg-white shadow pointer-events-none')
            with ui.row().classes('w-full items-center no-wrap text-xs text-gray-500'):
                ui.label('before')
                self.slider = (
                    ui.slider(min=0, max=100, value=position, on_change=lambda e: self._apply(e.value))
                    .classes('grow')
                    .mark('compare-position')
                )
                ui.label('after')
        self._apply(position)

    def _apply(self, position: float) -> None:
        """Clip before to the left of the divider and after to its right, and move the divider line with them."""
        pct = min(100.0, max(0.0, float(position or 0)))
        self.before.style(f'clip-path: inset(0 {100 - pct:g}% 0 0)')
        self.after.style(f'clip-path: inset(0 0 0 {pct:g}%)')
        self.divider.style(f'left: {pct:g}%')
