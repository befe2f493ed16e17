"""Composition drift flags a different scene and lets a restyled or regraded one through."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.qa.composition import composition_drift
from tests.services.qa import hopper, inked, noir, photo, regrade, reinhard, watercolour


def test_different_scene_fails() -> None:
    res = composition_drift(photo('rocket'), photo('coffee'))
    assert res.verdict == 'fail' and res.value < 0.3
    assert composition_drift(inked(photo('astronaut')), hopper()).verdict == 'fail'
    assert composition_drift(np.ascontiguousarray(photo('chelsea')[:, ::-1]), photo('chelsea')).verdict == 'fail'


@pytest.mark.parametrize(
    'restyle',
    [inked, watercolour, noir, regrade, lambda img: reinhard(img, inked(photo('coffee')))],
    ids=['inked', 'watercolour', 'noir', 'regrade', 'reinhard'],
)
@pytest.mark.parametrize('name', ['coffee', 'astronaut'])
def test_same_scene_restyled_passes(name: str, restyle) -> None:
    scene = photo(name)
    res = composition_drift(restyle(scene), scene)
    assert res.verdict == 'pass', (res.value, res.extra)


def test_resolution_and_aspect_do_not_matter_much() -> None:
    scene = photo('coffee')
    big = cv2.resize(inked(scene), (1500, 1000), interpolation=cv2.INTER_CUBIC)
    assert composition_drift(big, scene).verdict == 'pass'
    stretched = cv2.resize(scene, (600, 500))
    res = composition_drift(stretched, scene)
    assert res.extra['aspect_mismatch'] > 0.05 and 'aspect' in res.detail


def test_identical_is_one_and_tall_strips_work() -> None:
    assert composition_drift(photo('coffee'), photo('coffee')).value == 1.0
    strip = np.ascontiguousarray(np.vstack([photo('coffee')] * 6))  # 2400×600 webtoon-like strip
    assert composition_drift(strip, strip).value == 1.0


def test_ssim_matches_skimage() -> None:
    from skimage.metrics import structural_similarity

    from services.qa.composition import ssim, structure_maps

    a, _ = structure_maps(photo('coffee'), (128, 85))
    b, _ = structure_maps(inked(photo('coffee')), (128, 85))
    expected = structural_similarity(
        a, b, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(a, b) == pytest.approx(expected, abs=1e-4)
