"""A cut-out is judged on what it keeps, laid over its source; its kept share is a metric of its own."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from services.qa.cutout import composite_over, cutout_check, evaluate_cutout, has_transparency, kept_fraction
from services.qa.report import evaluate


def scene(size: int = 600) -> Image.Image:
    im = Image.new('RGB', (size, size), (120, 160, 200))
    d = ImageDraw.Draw(im)
    for x in range(0, size, 40):
        d.line((x, 0, x, size), fill=(60, 80, 100), width=3)
    d.ellipse((200, 150, 400, 550), fill=(200, 90, 60), outline=(10, 10, 10), width=5)
    return im


def cut(im: Image.Image, *, hidden: tuple[int, int, int] | None = None) -> Image.Image:
    """The ellipse kept; the rest transparent, its hidden RGB kept or blanked (as remote services do)."""
    mask = Image.new('L', im.size, 0)
    ImageDraw.Draw(mask).ellipse((200, 150, 400, 550), fill=255)
    rgba = im.convert('RGBA')
    if hidden is not None:
        rgba = Image.composite(rgba, Image.new('RGBA', im.size, (*hidden, 255)), mask)
    rgba.putalpha(mask)
    return rgba


def test_the_kept_share_is_measured_and_judged() -> None:
    src = scene()
    out = cut(src)
    assert has_transparency(out) and not has_transparency(src) and not has_transparency(src.convert('RGBA'))
    assert 0.15 < kept_fraction(out) < 0.25
    assert cutout_check(out).verdict == 'pass' and 'removed' in cutout_check(out).detail
    empty = src.convert('RGBA')
    empty.putalpha(0)
    assert cutout_check(empty).verdict == 'fail' and 'no subject was found' in cutout_check(empty).detail
    nearly_all = src.convert('RGBA')
    nearly_all.putpixel((0, 0), (0, 0, 0, 0))
    assert cutout_check(nearly_all).verdict == 'warn'


def test_hidden_pixels_do_not_decide_the_verdict() -> None:
    src = scene()
    kept, blanked = cut(src), cut(src, hidden=(0, 0, 0))
    assert np.array_equal(composite_over(kept, src), composite_over(blanked, src))
    fair = evaluate_cutout(blanked, src, scene=src)
    naive = evaluate(blanked, scene=src)  # alpha dropped: a black background is measured instead of the frame
    assert fair.metrics['composition'].value > 0.95 > naive.metrics['composition'].value
    assert fair.verdict != 'fail' and 'cutout' in fair.metrics
