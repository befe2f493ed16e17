"""Balloon text the font cannot draw is drawn with an installed fallback font, or refused naming the characters."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from services.errors import Invalid
from services.layout import fonts
from services.layout.balloons import Balloon, default_font_path, draw_balloon

ROCKET = 'Liftoff \U0001f680!'  # DejaVu Sans has no rocket


def ink(text: str, font) -> np.ndarray:  # noqa: ANN001
    canvas = Image.new('RGB', (400, 300), (90, 120, 150))
    draw_balloon(canvas, (0, 0, 400, 300), Balloon(text=text, x=0.5, y=0.5, kind='caption'), font)
    return np.asarray(canvas.convert('L'))


def test_plain_text_keeps_the_balloon_font() -> None:
    assert fonts.font_for('Hello, café — “quoted”…', default_font_path()) == default_font_path()
    assert fonts.missing(ROCKET, default_font_path()) == ['\U0001f680']


def test_emoji_is_drawn_with_a_fallback_or_refused_by_name(monkeypatch) -> None:
    if fonts.fallback_fonts():  # the Makefile installs fonts-symbola; the rocket is drawn with it, not as a box
        chosen = fonts.font_for(ROCKET, default_font_path())
        assert chosen in fonts.fallback_fonts() and not fonts.missing(ROCKET, chosen)
        assert Balloon.from_dict({'text': ROCKET, 'x': 0.5, 'y': 0.5}).text == ROCKET
        assert not np.array_equal(ink('\U0001f680', chosen), ink('\U0001f680', default_font_path()))  # not a box
    monkeypatch.setattr(fonts, 'fallback_fonts', lambda: ())
    with pytest.raises(Invalid, match=r'cannot draw \U0001f680 \(U\+1F680\).*apt-get install fonts-symbola'):
        Balloon.from_dict({'text': ROCKET, 'x': 0.5, 'y': 0.5})
