"""Page sizes and panel templates: pure geometry so the renderer, the page UI and the CLI agree on every rect."""

from __future__ import annotations

from services.errors import Invalid

PAGE_SIZES: dict[str, tuple[float, float, str]] = {
    'us_comic': (6.625, 10.25, 'in'),
    'a4': (8.27, 11.69, 'in'),
    'webtoon': (800, 3200, 'px'),
}
PAGE_SIZE_LABELS: dict[str, str] = {
    'us_comic': 'US comic (6.625 × 10.25 in)',
    'a4': 'A4 (210 × 297 mm)',
    'webtoon': 'Webtoon strip (800 × 3200 px)',
}
TEMPLATES: dict[str, str] = {
    'splash': 'Splash (1 panel)',
    'two': '2 panels (stacked)',
    'three': '3 panels (wide top, two below)',
    'four': '4 panels (2 × 2)',
    'six': '6 panels (3 rows × 2)',
    'grid': 'Custom grid (rows × cols)',
}
# Panels per row, top to bottom; 'grid' is built from rows/cols.
_ROW_LAYOUTS: dict[str, tuple[int, ...]] = {
    'splash': (1,),
    'two': (1, 1),
    'three': (1, 2),
    'four': (2, 2),
    'six': (2, 2, 2),
}
DPI_MIN, DPI_MAX = 36, 600
GRID_MAX = 8
DEFAULT_GRID = (3, 3)
MIN_PANEL_PX = 4


def page_pixels(size_preset: str, dpi: int = 150) -> tuple[int, int]:
    """Pixel size of a page preset at a DPI; pixel presets (webtoon) ignore the DPI."""
    if size_preset not in PAGE_SIZES:
        raise Invalid(
            f'Unknown page size {size_preset!r}; choose one of {", ".join(PAGE_SIZES)}.', code='page_size_unknown'
        )
    if not isinstance(dpi, int) or isinstance(dpi, bool) or not DPI_MIN <= dpi <= DPI_MAX:
        raise Invalid(f'DPI must be a whole number from {DPI_MIN} to {DPI_MAX}.', code='page_dpi')
    w, h, unit = PAGE_SIZES[size_preset]
    if unit == 'px':
        return int(w), int(h)
    return round(w * dpi), round(h * dpi)


def reference_scale(size_preset: str, width: int) -> float:
    """How much bigger this render is than the 150-DPI reference, so fonts, borders and gutters scale with it."""
    return width / page_pixels(size_preset, 150)[0]


def default_margin(width: int, height: int) -> int:
    """Outer margin that looks right at any resolution (about 4 % of the short side)."""
    return max(0, round(min(width, height) * 0.04))


def default_gutter(width: int, height: int) -> int:
    """Space between panels (about 1.8 % of the short side)."""
    return max(0, round(min(width, height) * 0.018))


def slot_count(template: str, *, rows: int | None = None, cols: int | None = None) -> int:
    """Number of panel slots a template offers, without computing geometry."""
    return sum(_row_layout(template, rows, cols))


def _row_layout(template: str, rows: int | None, cols: int | None) -> tuple[int, ...]:
    if template == 'grid':
        r = DEFAULT_GRID[0] if rows is None else rows
        c = DEFAULT_GRID[1] if cols is None else cols
        for name, value in (('rows', r), ('cols', c)):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= GRID_MAX:
                raise Invalid(f'Grid {name} must be a whole number from 1 to {GRID_MAX}.', code='page_grid')
        return (c,) * r
    if template not in _ROW_LAYOUTS:
        raise Invalid(
            f'Unknown page template {template!r}; choose one of {", ".join(TEMPLATES)}.', code='page_template_unknown'
        )
    return _ROW_LAYOUTS[template]


def _split(start: int, total: int, n: int, gutter: int) -> list[tuple[int, int]]:
    """Cut a span into n parts separated by gutters; sizes differ by at most one pixel and fill the span exactly."""
    usable = total - gutter * (n - 1)
    base, extra = divmod(usable, n)
    out, pos = [], start
    for i in range(n):
        size = base + (1 if i < extra else 0)
        out.append((pos, size))
        pos += size + gutter
    return out


def panel_rects(
    template: str,
    width: int,
    height: int,
    *,
    margin: int | None = None,
    gutter: int | None = None,
    rows: int | None = None,
    cols: int | None = None,
) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) for every slot in reading order (left to right, top to bottom)."""
    layout = _row_layout(template, rows, cols)
    if width <= 0 or height <= 0:
        raise Invalid('Page width and height must be positive.', code='page_size')
    margin = default_margin(width, height) if margin is None else margin
    gutter = default_gutter(width, height) if gutter is None else gutter
    if margin < 0 or gutter < 0:
        raise Invalid('Margin and gutter cannot be negative.', code='page_spacing')
    inner_w, inner_h = width - 2 * margin, height - 2 * margin
    most_cols = max(layout)
    if inner_w - gutter * (most_cols - 1) < MIN_PANEL_PX * most_cols or inner_h - gutter * (
        len(layout) - 1
    ) < MIN_PANEL_PX * len(layout):
        raise Invalid('The margin and gutter leave no room for the panels.', code='page_spacing')
    rects: list[tuple[int, int, int, int]] = []
    for (y, h), n_cols in zip(_split(margin, inner_h, len(layout), gutter), layout, strict=True):
        rects.extend((x, y, w, h) for x, w in _split(margin, inner_w, n_cols, gutter))
    return rects
