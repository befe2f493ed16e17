"""The chain: fixed order whatever the request, outputs feeding forward, progress, deterministic PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from services.errors import Invalid
from services.postprocess.chain import ChainStep, parse_steps, run_chain, to_png_bytes
from services.postprocess.colour import profile_from_dict
from services.postprocess.upscale import ACNET_METHOD


@pytest.fixture(scope='module')
def drawing() -> Image.Image:
    im = Image.new('RGB', (160, 200), (240, 240, 235))
    d = ImageDraw.Draw(im)
    d.ellipse((55, 20, 105, 75), fill=(250, 205, 175), outline=(10, 10, 10), width=2)
    d.polygon([(50, 80), (110, 80), (125, 180), (35, 180)], fill=(200, 60, 40), outline=(10, 10, 10))
    return im


@pytest.mark.parametrize(
    'given', ['color,upscale,bg', 'upscale, bg ,color', ['color', 'bg', 'upscale'], 'bg,color,upscale']
)
def test_any_order_becomes_bg_upscale_color(given: str | list[str]) -> None:
    steps = parse_steps(given, profile='cold_rain', scale=4)
    assert [s.op for s in steps] == ['bg', 'upscale', 'color']
    assert steps[1].params == {'scale': 4, 'method': 'auto'}
    assert steps[2].params == {'profile': 'cold_rain'}


def test_colour_defaults_to_neutral_and_steps_are_optional() -> None:
    assert [(s.op, s.params) for s in parse_steps('colour', profile=None)] == [('color', {'profile': 'neutral'})]
    assert [s.op for s in parse_steps(['upscale'], profile=None)] == ['upscale']


@pytest.mark.parametrize('bad', ['bg,sharpen', '', ' , '])
def test_unknown_or_empty_steps_are_refused(bad: str) -> None:
    with pytest.raises(Invalid):
        parse_steps(bad, profile=None)


def test_bad_scale_is_refused() -> None:
    with pytest.raises(Invalid, match='2 or 4'):
        parse_steps('upscale', profile=None, scale=3)


def test_chain_runs_in_fixed_order_each_output_feeding_the_next(drawing: Image.Image) -> None:
    steps = list(reversed(parse_steps('bg,upscale,color', profile='cinematic_warm')))  # order given backwards
    progress: list[tuple[str, float]] = []
    results = run_chain(drawing, steps, on_step=lambda op, f: progress.append((op, f)))
    assert [r.op for r in results] == ['bg', 'upscale', 'color']
    bg, up, colour = results
    assert bg.method == 'grabcut' and bg.image.mode == 'RGBA' and bg.image.size == (160, 200)
    assert up.method == ACNET_METHOD and up.image.size == (320, 400) and up.image.mode == 'RGBA'
    assert colour.method == 'pil-enhance' and colour.params['settings']['r_gain'] == pytest.approx(1.04)
    np.testing.assert_array_equal(np.asarray(colour.image.getchannel('A')), np.asarray(up.image.getchannel('A')))
    assert np.asarray(colour.image)[0, 0, 3] == 0  # the cut-out survived grading
    assert all(r.ms >= 0 for r in results)
    assert [f for _, f in progress] == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    assert [op for op, _ in progress] == ['bg', 'bg', 'upscale', 'upscale', 'color', 'color']


def test_artist_profiles_are_found_and_unknown_ones_refused(drawing: Image.Image) -> None:
    mono = profile_from_dict({'name': 'mono', 'saturation': 0})
    (result,) = run_chain(drawing, parse_steps('color', profile='mono'), profiles={'mono': mono})
    arr = np.asarray(result.image, dtype=int)
    assert np.abs(arr[:, :, 0] - arr[:, :, 2]).max() <= 1
    with pytest.raises(Invalid, match='sepia'):
        run_chain(drawing, parse_steps('color', profile='sepia'))


def test_duplicate_or_unknown_chain_steps_are_refused(drawing: Image.Image) -> None:
    with pytest.raises(Invalid, match='twice'):
        run_chain(drawing, [ChainStep('color', {}), ChainStep('color', {})])
    with pytest.raises(Invalid):
        run_chain(drawing, [ChainStep('blur', {})])


def test_png_bytes_are_deterministic_keep_alpha_and_drop_metadata(drawing: Image.Image) -> None:
    rgba = drawing.convert('RGBA')
    rgba.putalpha(128)
    info = PngImagePlugin.PngInfo()
    info.add_text('prompt', 'secret prompt')
    buf = io.BytesIO()
    rgba.save(buf, 'PNG', pnginfo=info)
    loaded = Image.open(io.BytesIO(buf.getvalue()))
    assert loaded.info.get('prompt') == 'secret prompt'
    data = to_png_bytes(loaded)
    assert data == to_png_bytes(rgba)
    assert b'tEXt' not in data and b'iTXt' not in data and b'secret' not in data
    back = Image.open(io.BytesIO(data))
    assert back.mode == 'RGBA' and back.getchannel('A').getextrema() == (128, 128)


def test_palette_images_with_transparency_keep_it() -> None:
    p = Image.new('P', (8, 8), 0)
    p.putpalette([0, 0, 0, 255, 0, 0])
    p.info['transparency'] = 0
    back = Image.open(io.BytesIO(to_png_bytes(p)))
    assert back.mode == 'RGBA' and back.getpixel((0, 0))[3] == 0
