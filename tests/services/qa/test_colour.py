"""The colour guard reproduces the original chroma_delta formula and its grayscale enforcement."""

from __future__ import annotations

import numpy as np
import pytest

from services.qa.colour import chroma_delta, colour_guard
from services.qa.thresholds import QAThresholds
from tests.services.qa import photo


def _literal(rgb: np.ndarray) -> float:
    px = rgb.astype(np.int64)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return round(float(np.mean((np.abs(r - g) + np.abs(r - b) + np.abs(g - b)) / 3)), 4)


def test_hand_made_image_matches_the_original_formula() -> None:
    img = np.array([[[10, 20, 40], [0, 0, 0]], [[255, 0, 0], [100, 100, 100]]], np.uint8)
    # (10+30+20)/3 = 20, 0, (255+255+0)/3 = 170, 0 → mean 47.5
    assert chroma_delta(img) == 47.5
    rgba = np.dstack([img, np.zeros((2, 2), np.uint8)])
    assert chroma_delta(rgba) == 47.5  # alpha ignored, as the original


def test_fast_path_equals_literal_formula_on_photos() -> None:
    rng = np.random.default_rng(1)
    for img in (photo('astronaut'), photo('coffee'), rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)):
        assert chroma_delta(img) == pytest.approx(_literal(img), abs=1e-4)


def test_monochrome_enforcement() -> None:
    mono = QAThresholds(monochrome=True)
    gray = np.full((8, 8, 3), 128, np.uint8)
    tinted = gray.copy()
    tinted[..., 2] += 3  # |R−B| = |G−B| = 3 → chroma 2.0: still grayscale-like (≤ 2.0)
    assert colour_guard(tinted, mono).value == 2.0
    assert colour_guard(tinted, mono).verdict == 'pass'
    tinted[..., 2] += 1
    res = colour_guard(tinted, mono)
    assert (
        res.verdict == 'fail' and res.value == pytest.approx(8 / 3, abs=1e-4) and res.extra['grayscale_like'] is False
    )
    assert colour_guard(photo('coffee'), mono).verdict == 'fail'


def test_colour_project_warns_when_nearly_gray() -> None:
    gray = np.full((8, 8, 3), 90, np.uint8)
    assert colour_guard(gray).verdict == 'warn'
    assert colour_guard(photo('coffee')).verdict == 'pass'
    assert colour_guard(gray, QAThresholds(min_chroma_delta=0)).verdict == 'pass'
