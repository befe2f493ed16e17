"""Upscale sizes, kept transparency, and which method really ran."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw

from services.errors import Invalid
from services.postprocess.upscale import ACNET_METHOD, LANCZOS_METHOD, acnet_available, upscale


@pytest.fixture(scope='module')
def cutout() -> Image.Image:
    """A small RGBA line-art tile with a transparent surround and a soft alpha ramp."""
    im = Image.fromarray(skimage.data.astronaut()).resize((96, 80)).convert('RGBA')
    alpha = Image.new('L', im.size, 0)
    ImageDraw.Draw(alpha).ellipse((10, 8, 86, 72), fill=255)
    im.putalpha(alpha)
    return im


def test_acnet_runs_here_with_the_bundled_weights() -> None:
    ok, message = acnet_available()
    assert ok, message  # pyanime4k 3.x ships ACNet weights in the wheel; no download, no GPU needed


@pytest.mark.parametrize('scale', [2, 4])
def test_auto_uses_acnet_and_keeps_alpha(cutout: Image.Image, scale: int) -> None:
    out, method = upscale(cutout, scale)
    assert method == ACNET_METHOD
    assert out.size == (96 * scale, 80 * scale)
    assert out.mode == 'RGBA'
    alpha = np.asarray(out)[:, :, 3]
    assert alpha[0, 0] == 0 and alpha[40 * scale, 48 * scale] == 255
    expected = np.asarray(cutout.getchannel('A').resize(out.size, Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(alpha, expected)


def test_lanczos_can_be_forced_and_matches_pillow(cutout: Image.Image) -> None:
    out, method = upscale(cutout, 2, method='lanczos')
    assert method == LANCZOS_METHOD
    expected = cutout.convert('RGB').resize((192, 160), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(np.asarray(out)[:, :, :3], np.asarray(expected))


def test_acnet_output_stays_close_to_the_source_colours(cutout: Image.Image) -> None:
    rgb = cutout.convert('RGB')
    acnet, _ = upscale(rgb, 2, method='acnet')
    lanczos, _ = upscale(rgb, 2, method='lanczos')
    assert acnet.mode == 'RGB'
    diff = np.abs(np.asarray(acnet, dtype=int) - np.asarray(lanczos, dtype=int)).mean()
    assert diff < 8  # same picture, only the fine detail differs


def test_grayscale_stays_grayscale() -> None:
    gray = Image.fromarray(skimage.data.camera()).resize((64, 64))
    out, _ = upscale(gray, 2)
    assert out.mode == 'L' and out.size == (128, 128)


def test_upscale_is_deterministic(cutout: Image.Image) -> None:
    assert upscale(cutout, 2)[0].tobytes() == upscale(cutout, 2)[0].tobytes()


def test_bad_requests_are_refused(cutout: Image.Image) -> None:
    with pytest.raises(Invalid, match='2 or 4'):
        upscale(cutout, 3)
    with pytest.raises(Invalid, match='method'):
        upscale(cutout, 2, method='esrgan')
    with pytest.raises(Invalid, match='megapixel'):
        upscale(Image.new('RGB', (4000, 3000)), 4)
