"""Balloons: validated data, text wrapped and fitted inside the shape, drawing clipped to its panel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFont

from models.layout import BALLOON_TAILS
from services.errors import Invalid
from services.layout.balloons import TAIL_DIRECTIONS, Balloon, draw_balloon, layout_balloon, load_font

GREY = (128, 128, 128)
PANEL = (50, 40, 400, 300)  # x, y, w, h inside a bigger canvas, so leaks outside the panel are visible
LONG = 'This line of dialogue is long enough that it has to wrap over several lines inside the balloon.'


def _canvas() -> Image.Image:
    return Image.new('RGB', (520, 400), GREY)


def _changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    return np.any(np.asarray(before, dtype=np.int16) != np.asarray(after, dtype=np.int16), axis=2)


def test_from_dict_round_trip_and_coercion() -> None:
    b = Balloon.from_dict({'text': 'Hi', 'x': 0, 'y': 1, 'kind': 'thought', 'tail': 'left', 'font_size': 30})
    assert (b.x, b.y, b.font_size) == (0.0, 1.0, 30)
    assert Balloon.from_dict(b.to_dict()) == b


@pytest.mark.parametrize(
    ('data', 'field'),
    [
        ({'text': '', 'x': 0.5, 'y': 0.5}, 'text'),
        ({'text': 'a', 'x': 1.5, 'y': 0.5}, 'x'),
        ({'text': 'a', 'x': 0.5, 'y': True}, 'y'),
        ({'text': 'a', 'x': 0.5}, 'y'),
        ({'text': 'a', 'x': 0.5, 'y': 0.5, 'kind': 'shout'}, 'kind'),
        ({'text': 'a', 'x': 0.5, 'y': 0.5, 'tail': 'up'}, 'tail'),
        ({'text': 'a', 'x': 0.5, 'y': 0.5, 'font_size': 2}, 'font_size'),
        ({'text': 'a', 'x': 0.5, 'y': 0.5, 'font_size': 12.5}, 'font_size'),
        ({'text': 'a', 'x': 0.5, 'y': 0.5, 'width': 0}, 'width'),
        ({'text': 'a', 'x': 0.5, 'y': 0.5, 'colour': 'red'}, 'colour'),
    ],
)
def test_from_dict_names_the_bad_field(data: dict, field: str) -> None:
    with pytest.raises(Invalid) as err:
        Balloon.from_dict(data)
    assert err.value.details['field'] == field
    assert field.replace('_', ' ') in err.value.user_message  # by its label, e.g. 'Balloon font size: …'


def test_every_tail_the_model_allows_has_a_direction() -> None:
    assert set(TAIL_DIRECTIONS) == set(BALLOON_TAILS)


def test_default_font_is_truetype() -> None:
    assert isinstance(load_font(20), ImageFont.FreeTypeFont)


@pytest.mark.parametrize('kind', ['speech', 'caption', 'thought'])
def test_long_text_wraps_and_stays_inside_the_balloon(kind: str) -> None:
    balloon = Balloon(LONG, 0.5, 0.4, kind=kind, tail='bottom-left', width=0.5)
    layout = layout_balloon(PANEL, balloon)
    assert len(layout.lines) >= 3
    assert ' '.join(layout.lines) == LONG
    bx0, by0, bx1, by1 = layout.body
    tx0, ty0, tx1, ty1 = layout.text_box
    assert bx0 <= tx0 < tx1 <= bx1 and by0 <= ty0 < ty1 <= by1
    if kind != 'caption':  # the text box's corners must sit inside the ellipse, not just its bounding box
        cx, cy, a, b = (bx0 + bx1) / 2, (by0 + by1) / 2, (bx1 - bx0) / 2, (by1 - by0) / 2
        for x, y in [(tx0, ty0), (tx1, ty0), (tx0, ty1), (tx1, ty1)]:
            assert ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0

    before = _canvas()
    after = before.copy()
    draw_balloon(after, PANEL, balloon)
    px = np.asarray(after)
    changed = _changed(before, after)
    ys, xs = np.nonzero(changed)
    # nothing leaks out of the panel, and the drawing stays within body + tail
    x, y, w, h = PANEL
    assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h
    tip = layout.tail_tip or layout.body[:2]
    assert xs.min() >= min(bx0, tip[0]) - 3 and xs.max() <= max(bx1, tip[0]) + 3
    assert ys.min() >= min(by0, tip[1]) - 3 and ys.max() <= max(by1, tip[1]) + 3
    # dark text pixels inside the text box, white fill around it, untouched art well outside
    text = px[ty0:ty1, tx0:tx1]
    assert (text.max(axis=2) < 80).sum() > 50
    assert (text.min(axis=2) > 245).sum() > 50
    assert tuple(px[y + h - 2, x + w - 2]) == GREY


def test_text_is_dark_on_white_and_outline_is_black() -> None:
    canvas = _canvas()
    balloon = Balloon('Hello!', 0.5, 0.5, tail='none')
    draw_balloon(canvas, PANEL, balloon)
    layout = layout_balloon(PANEL, balloon)
    px = np.asarray(canvas)
    bx0, by0, bx1, by1 = layout.body
    cy = (by0 + by1) // 2
    row = px[cy, bx0 - 2 : bx0 + 8].max(axis=1)
    assert row.min() < 40  # black outline at the left edge of the ellipse
    assert tuple(px[by0 + layout.border + 3, (bx0 + bx1) // 2]) == (255, 255, 255)


def test_balloon_near_the_corner_is_clamped_inside_the_panel() -> None:
    canvas = _canvas()
    before = canvas.copy()
    draw_balloon(canvas, PANEL, Balloon('Way over here in the corner', 1.0, 1.0, tail='bottom-right'))
    ys, xs = np.nonzero(_changed(before, canvas))
    x, y, w, h = PANEL
    assert xs.max() < x + w and ys.max() < y + h and len(xs) > 100


@pytest.mark.parametrize('tail', sorted(TAIL_DIRECTIONS))
def test_every_tail_direction_draws(tail: str) -> None:
    canvas = _canvas()
    before = canvas.copy()
    balloon = Balloon('Which way?', 0.5, 0.5, tail=tail)
    draw_balloon(canvas, PANEL, balloon)
    layout = layout_balloon(PANEL, balloon)
    assert (layout.tail_tip is None) == (tail == 'none')
    if layout.tail_tip:  # the tail tip is drawn (dark outline pixels near it)
        tx, ty = layout.tail_tip
        near = np.asarray(canvas)[ty - 4 : ty + 5, tx - 4 : tx + 5]
        assert near.max(axis=2).min() < 100
    assert _changed(before, canvas).any()


def test_text_that_cannot_fit_is_shrunk_then_truncated_never_overflowing() -> None:
    tiny = (0, 0, 160, 90)
    balloon = Balloon(' '.join(['overflow'] * 60), 0.5, 0.5, font_size=40, width=0.6)
    layout = layout_balloon(tiny, balloon)
    assert layout.font_size < 40
    assert layout.lines[-1].endswith('…')
    bx0, by0, bx1, by1 = layout.body
    tx0, ty0, tx1, ty1 = layout.text_box
    assert bx0 <= tx0 and tx1 <= bx1 and by0 <= ty0 and ty1 <= by1
    canvas = Image.new('RGB', (160, 90), GREY)
    draw_balloon(canvas, tiny, balloon)


def test_scale_shrinks_the_font_for_previews() -> None:
    balloon = Balloon('Preview', 0.5, 0.5)
    full = layout_balloon((0, 0, 800, 600), balloon, scale=1.0)
    small = layout_balloon((0, 0, 200, 150), balloon, scale=0.25)
    assert full.font_size == 28 and small.font_size == 7
