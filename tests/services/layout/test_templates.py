"""Page geometry: every template fits the page, slots never overlap, reading order holds."""

from __future__ import annotations

import itertools

import pytest

from services.errors import Invalid
from services.layout.templates import PAGE_SIZES, TEMPLATES, page_pixels, panel_rects, slot_count

EXPECTED_SLOTS = {'splash': 1, 'two': 2, 'three': 3, 'four': 4, 'six': 6, 'grid': 9}


def _separated(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return bx >= ax + aw + gap or ax >= bx + bw + gap or by >= ay + ah + gap or ay >= by + bh + gap


def _assert_reading_order(rects: list[tuple[int, int, int, int]]) -> None:
    assert rects == sorted(rects, key=lambda r: (r[1], r[0]))


def test_page_pixels_presets() -> None:
    assert page_pixels('us_comic', 150) == (994, 1538)
    assert page_pixels('a4', 300) == (2481, 3507)
    assert page_pixels('webtoon', 300) == (800, 3200)
    assert set(PAGE_SIZES) >= {'us_comic', 'a4', 'webtoon'}
    with pytest.raises(Invalid, match='Unknown page size'):
        page_pixels('tabloid')
    with pytest.raises(Invalid, match='DPI'):
        page_pixels('a4', 5000)


@pytest.mark.parametrize('preset', sorted(PAGE_SIZES))
@pytest.mark.parametrize('template', sorted(TEMPLATES))
def test_templates_fit_without_overlap_in_reading_order(preset: str, template: str) -> None:
    width, height = page_pixels(preset, 150)
    gutter = 12
    rects = panel_rects(template, width, height, gutter=gutter)
    assert len(rects) == EXPECTED_SLOTS[template] == slot_count(template)
    for x, y, w, h in rects:
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= width and y + h <= height
    for a, b in itertools.combinations(rects, 2):
        assert _separated(a, b, gutter), (a, b)
    _assert_reading_order(rects)


def test_rows_fill_the_content_area_exactly() -> None:
    rects = panel_rects('four', 1000, 1500, margin=40, gutter=20)
    (x0, y0, w0, h0), (x1, _, w1, _), (_, y2, _, h2), _ = rects
    assert (x0, y0) == (40, 40)
    assert x1 == x0 + w0 + 20 and x1 + w1 == 1000 - 40
    assert y2 == y0 + h0 + 20 and y2 + h2 == 1500 - 40


def test_three_is_wide_tier_then_two() -> None:
    top, left, right = panel_rects('three', 1000, 1500)
    assert top[2] > left[2] and top[1] < left[1] == right[1] and left[0] < right[0]


def test_custom_grid_2x3() -> None:
    rects = panel_rects('grid', 1200, 900, margin=30, gutter=15, rows=2, cols=3)
    assert len(rects) == 6 == slot_count('grid', rows=2, cols=3)
    assert len({r[1] for r in rects}) == 2 and len({r[0] for r in rects}) == 3
    assert max(r[2] for r in rects) - min(r[2] for r in rects) <= 1
    assert max(r[3] for r in rects) - min(r[3] for r in rects) <= 1
    assert rects[1][0] - (rects[0][0] + rects[0][2]) == 15
    assert rects[3][1] - (rects[0][1] + rects[0][3]) == 15
    _assert_reading_order(rects)
    for a, b in itertools.combinations(rects, 2):
        assert _separated(a, b, 15)


@pytest.mark.parametrize(
    ('template', 'kwargs', 'match'),
    [
        ('comic', {}, 'Unknown page template'),
        ('grid', {'rows': 0, 'cols': 2}, 'rows'),
        ('grid', {'rows': 2, 'cols': 9}, 'cols'),
        ('grid', {'rows': '2', 'cols': 2}, 'rows'),
        ('grid', {'rows': True, 'cols': 2}, 'rows'),
        ('four', {'margin': 600}, 'no room'),
        ('four', {'gutter': -1}, 'negative'),
    ],
)
def test_bad_templates_are_refused(template: str, kwargs: dict, match: str) -> None:
    with pytest.raises(Invalid, match=match):
        panel_rects(template, 1000, 1500, **kwargs)
