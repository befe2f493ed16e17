"""Colour profiles: the original's values, their direction on real pixels, alpha left alone, clear validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw

from services.errors import Invalid
from services.postprocess.colour import PROFILES_FILE, ColourProfile, apply_profile, builtin_profiles, profile_from_dict

# The original pipeline's table: bright, contrast, sat, sharp, gamma, autocontrast (cutoff), R×, G×, B×.
ORIGINAL_TABLE = {
    'neutral': (1.0, 1.02, 1.0, 1.0, 1.0, 0, 1.0, 1.0, 1.0),
    'cinematic_warm': (0.98, 1.12, 1.08, 1.04, 1.03, 0, 1.04, 1.0, 0.96),
    'cold_rain': (0.97, 1.10, 0.95, 1.03, 1.01, 0, 0.97, 1.0, 1.05),
}
COLUMNS = (
    'brightness',
    'contrast',
    'saturation',
    'sharpness',
    'gamma',
    'autocontrast_cutoff',
    'r_gain',
    'g_gain',
    'b_gain',
)


@pytest.fixture(scope='module')
def photo() -> Image.Image:
    return Image.fromarray(skimage.data.coffee()).resize((300, 200))


@pytest.fixture(scope='module')
def cutout(photo: Image.Image) -> Image.Image:
    im = photo.convert('RGBA')
    alpha = Image.new('L', im.size, 0)
    ImageDraw.Draw(alpha).ellipse((40, 20, 260, 180), fill=255)
    im.putalpha(alpha.resize((150, 100)).resize(im.size, Image.Resampling.BILINEAR))  # soft edge values too
    return im


def _rb(image: Image.Image) -> tuple[float, float]:
    arr = np.asarray(image.convert('RGB'), dtype=float)
    return arr[:, :, 0].mean(), arr[:, :, 2].mean()


def test_builtins_carry_the_original_values() -> None:
    profiles = builtin_profiles()
    assert set(profiles) == set(ORIGINAL_TABLE)
    for name, row in ORIGINAL_TABLE.items():
        assert tuple(getattr(profiles[name], c) for c in COLUMNS) == pytest.approx(row), name
    assert json.loads(PROFILES_FILE.read_text())['profiles'][0]['name'] == 'neutral'


def test_neutral_is_nearly_identity(photo: Image.Image) -> None:
    out = apply_profile(photo, builtin_profiles()['neutral'])
    diff = np.abs(np.asarray(out, dtype=int) - np.asarray(photo, dtype=int))
    assert diff.mean() < 2.5 and diff.max() <= 6  # only contrast 1.02 around the mean grey


def test_cinematic_warm_pushes_red_over_blue_and_cold_rain_the_opposite(photo: Image.Image) -> None:
    r0, b0 = _rb(photo)
    r_warm, b_warm = _rb(apply_profile(photo, builtin_profiles()['cinematic_warm']))
    r_cold, b_cold = _rb(apply_profile(photo, builtin_profiles()['cold_rain']))
    assert r_warm - b_warm > (r0 - b0) + 3
    assert r_cold - b_cold < (r0 - b0) - 3


@pytest.mark.parametrize('name', sorted(ORIGINAL_TABLE))
def test_alpha_is_untouched(cutout: Image.Image, name: str) -> None:
    out = apply_profile(cutout, builtin_profiles()[name])
    assert out.mode == 'RGBA'
    np.testing.assert_array_equal(np.asarray(out.getchannel('A')), np.asarray(cutout.getchannel('A')))


def test_transparent_pixels_do_not_shift_the_contrast_pivot(cutout: Image.Image) -> None:
    strong = ColourProfile('punch', contrast=1.5)
    black_surround = cutout.copy()
    arr = np.asarray(black_surround).copy()
    arr[arr[:, :, 3] == 0, :3] = 0
    a = np.asarray(apply_profile(cutout, strong))
    b = np.asarray(apply_profile(Image.fromarray(arr), strong))
    visible = arr[:, :, 3] > 0
    np.testing.assert_array_equal(a[visible], b[visible])


def test_profiles_are_deterministic(cutout: Image.Image) -> None:
    warm = builtin_profiles()['cinematic_warm']
    assert apply_profile(cutout, warm).tobytes() == apply_profile(cutout, warm).tobytes()


def test_autocontrast_and_gains_apply(photo: Image.Image) -> None:
    dull = Image.fromarray((np.asarray(photo, dtype=float) * 0.5 + 60).astype(np.uint8))
    out = np.asarray(apply_profile(dull, profile_from_dict({'name': 'stretch', 'autocontrast_cutoff': 1})))
    assert out.min() < 10 and out.max() > 245
    red = np.asarray(apply_profile(dull, profile_from_dict({'name': 'no-red', 'r_gain': 0})))
    assert red[:, :, 0].max() == 0


def test_artist_profile_round_trips_and_defaults_to_unchanged() -> None:
    p = profile_from_dict({'name': 'noir', 'saturation': 0, 'contrast': 1.3})
    assert p == ColourProfile('noir', saturation=0.0, contrast=1.3)
    assert profile_from_dict(p.to_dict()) == p


@pytest.mark.parametrize(
    ('data', 'field'),
    [
        ({'name': 'x', 'gamma': 0}, 'gamma'),
        ({'name': 'x', 'contrast': 110}, 'contrast'),
        ({'name': 'x', 'r_gain': 'warm'}, 'r_gain'),
        ({'name': 'x', 'saturation': True}, 'saturation'),
        ({'name': 'x', 'brightness': float('nan')}, 'brightness'),
        ({'name': 'x', 'hue': 1.0}, 'hue'),
        ({'name': 'Has Spaces'}, 'name'),
        ({'contrast': 1.1}, 'name'),
    ],
)
def test_bad_profiles_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(Invalid, match=repr(field)) as err:
        profile_from_dict(data)
    assert err.value.details['field'] == field
