"""Offline cut-outs on real photos and a drawn figure: transparent surroundings, opaque subject, soft edge."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from matplotlib import cbook
from PIL import Image, ImageDraw

from services.errors import Invalid
from services.postprocess.background import rembg_available, remove_background, remove_background_rembg


def _alpha(image: Image.Image) -> np.ndarray:
    assert image.mode == 'RGBA'
    return np.asarray(image)[:, :, 3]


def _transparent_share(alpha: np.ndarray) -> float:
    return float((alpha < 32).mean())


def _corners(alpha: np.ndarray, c: int = 24) -> list[np.ndarray]:
    return [alpha[:c, :c], alpha[:c, -c:], alpha[-c:, :c], alpha[-c:, -c:]]


@pytest.fixture(scope='module')
def hopper() -> Image.Image:
    with cbook.get_sample_data('grace_hopper.jpg') as fh:
        return Image.open(fh).convert('RGB')


@pytest.fixture(scope='module')
def hopper_cut(hopper: Image.Image) -> Image.Image:
    return remove_background(hopper)


def test_face_photo_keeps_the_person_and_clears_the_backdrop(hopper: Image.Image, hopper_cut: Image.Image) -> None:
    alpha = _alpha(hopper_cut)
    assert hopper_cut.size == hopper.size
    top_left, top_right, _, bottom_right = _corners(alpha)
    assert _transparent_share(top_left) > 0.9 and _transparent_share(top_right) > 0.9
    assert _transparent_share(alpha[60:300, 420:500]) > 0.9  # the blue studio backdrop right of her head
    assert alpha[240:300, 230:290].min() == 255  # face centre (dlib box is about x 161-376, y 137-352)
    assert bottom_right.mean() > 200  # her uniform runs off the bottom-right corner and must stay
    np.testing.assert_array_equal(np.asarray(hopper_cut)[:, :, :3], np.asarray(hopper))  # colour untouched


def test_edges_are_feathered_not_hard(hopper_cut: Image.Image) -> None:
    alpha = _alpha(hopper_cut)
    soft = (alpha > 0) & (alpha < 255)
    assert soft.sum() > 500
    assert len(np.unique(alpha[soft])) > 100  # a real ramp, not a two-level mask


def test_astronaut_corners_clear_face_opaque() -> None:
    cut = remove_background(Image.fromarray(skimage.data.astronaut()))
    alpha = _alpha(cut)
    shares = [_transparent_share(c) for c in _corners(alpha)]
    assert sum(s > 0.8 for s in shares) >= 3, shares
    assert alpha[110:140, 205:240].min() == 255  # face centre (dlib box is about x 179-266, y 83-170)
    assert alpha[330:420, 150:320].mean() > 240  # orange suit and mission patch


def _drawn_figure(bg: tuple[int, int, int] = (236, 226, 200)) -> Image.Image:
    im = Image.new('RGB', (480, 640), bg)
    d = ImageDraw.Draw(im)
    d.ellipse((190, 80, 290, 190), fill=(250, 210, 180), outline=(20, 20, 20), width=4)
    d.polygon([(170, 205), (310, 205), (350, 500), (130, 500)], fill=(40, 90, 200), outline=(20, 20, 20))
    d.line([(175, 215), (90, 380)], fill=(40, 90, 200), width=30)
    d.line([(305, 215), (390, 380)], fill=(40, 90, 200), width=30)
    d.rectangle((150, 500, 215, 600), fill=(60, 60, 60))
    d.rectangle((265, 500, 330, 600), fill=(60, 60, 60))
    return im


def test_drawn_figure_on_flat_colour_loses_the_flat_colour() -> None:
    drawing = _drawn_figure()
    alpha = _alpha(remove_background(drawing))
    flat = np.all(np.asarray(drawing) == (236, 226, 200), axis=2)
    interior = np.zeros_like(flat)
    interior[230:480, 180:300] = True  # inside the blue body
    interior[110:160, 215:265] = True  # inside the head
    assert _transparent_share(alpha[flat]) > 0.97
    assert alpha[interior].min() == 255
    assert alpha[530:590, 160:205].min() == 255  # a leg


def test_existing_transparency_is_never_made_opaque() -> None:
    drawing = _drawn_figure().convert('RGBA')
    hole = drawing.getchannel('A')
    ImageDraw.Draw(hole).rectangle((215, 110, 265, 160), fill=0)  # artist already cut a hole in the face
    drawing.putalpha(hole)
    alpha = _alpha(remove_background(drawing, feather_px=0))
    assert alpha[115:155, 220:260].max() == 0


def test_feather_zero_gives_a_tighter_edge_than_the_default() -> None:
    drawing = _drawn_figure()
    soft = (_alpha(remove_background(drawing, feather_px=8)) % 255 != 0).sum()
    hard = (_alpha(remove_background(drawing, feather_px=0)) % 255 != 0).sum()
    assert hard < soft


def test_cut_out_is_deterministic() -> None:
    drawing = _drawn_figure()
    assert remove_background(drawing).tobytes() == remove_background(drawing).tobytes()


def test_feather_out_of_range_is_refused() -> None:
    with pytest.raises(Invalid, match='feather_px'):
        remove_background(_drawn_figure(), feather_px=-1)


def test_rembg_status_explains_how_to_add_it_and_never_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv('U2NET_HOME', str(tmp_path / 'models'))
    ok, message = rembg_available()
    assert ok is False
    assert 'u2net.onnx' in message and str(tmp_path / 'models') in message
    assert "pip install 'rembg[cpu]'" in message or 'model file is missing' in message
    assert not (tmp_path / 'models').exists()  # nothing was created or fetched
    with pytest.raises(Invalid) as err:
        remove_background_rembg(_drawn_figure())
    assert err.value.code == 'rembg_unavailable'


def test_drawn_bust_cut_by_the_frame_keeps_its_body_to_the_edge() -> None:
    im = Image.new('RGB', (300, 400), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.polygon([(75, 250), (225, 250), (260, 400), (40, 400)], fill=(180, 40, 40), outline=(0, 0, 0), width=3)
    d.ellipse((100, 100, 200, 235), fill=(255, 224, 196), outline=(0, 0, 0), width=3)
    d.ellipse((120, 145, 145, 165), fill=(255, 255, 255), outline=(0, 0, 0), width=2)  # white eyes stay
    alpha = _alpha(remove_background(im))
    assert alpha[392:, 100:200].min() == 255  # the body runs off the bottom edge and stays opaque there
    assert alpha[150:160, 128:138].min() == 255  # the eye white is subject, not backdrop
    assert _transparent_share(alpha[:80]) > 0.97 and _transparent_share(alpha[300:, :20]) > 0.97
