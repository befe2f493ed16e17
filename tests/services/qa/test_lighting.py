"""Light set aside on relit stages: a night or dusk grade of an on-style panel scores as its day self does, an
off-style panel stays below it, and a grade never stretches a flat picture into the references' contrast."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.providers.local_effects import grade_time
from services.qa.lighting import lighting_of, relight
from services.qa.report import evaluate
from services.qa.style import build_style_profile, style_similarity
from tests.services.qa import hopper, inked, noir, photo, watercolour

REF_NAMES = ('coffee', 'rocket', 'chelsea', 'immunohistochemistry')


@pytest.fixture(scope='module')
def refs() -> list[np.ndarray]:
    return [inked(photo(n)) for n in REF_NAMES]


def night(img: np.ndarray, time: str = 'night') -> np.ndarray:
    return grade_time(img, time, np.random.default_rng(1))  # the offline renderer's own grade


@pytest.mark.parametrize('scene', [photo('astronaut'), hopper()], ids=['astronaut', 'hopper'])
def test_a_night_grade_scores_like_day_and_off_style_stays_below(refs, scene) -> None:
    profile, light = build_style_profile(refs), lighting_of(refs)
    relit_score = lambda img: style_similarity(relight(img, light), profile, light_free=True).value  # noqa: E731
    day = relit_score(night(inked(scene), 'day'))  # the day stage relights too
    graded = style_similarity(night(inked(scene)), profile, light_free=True).value  # the same measure, not relit
    relit = relit_score(night(inked(scene)))
    assert graded < day - 0.05  # what failed every night candidate before
    assert relit > day - 0.03
    for other in (watercolour(scene), noir(scene), scene):
        assert relit_score(night(other)) < relit - 0.05


def test_relight_restores_lost_contrast_but_never_flattens_a_contrasty_picture(refs) -> None:
    light = lighting_of(refs)
    dim = night(inked(hopper()))
    lab_std = lambda img: float(cv2.cvtColor(img, cv2.COLOR_RGB2LAB)[..., 0].std())  # noqa: E731
    assert lab_std(relight(dim, light)) > 1.5 * lab_std(dim)
    soft = lighting_of([watercolour(photo(n)) for n in REF_NAMES])
    sharp = inked(hopper())
    assert lab_std(relight(sharp, soft)) > 2 * soft.std[0] * 2.55  # kept far above the soft refs' spread


def test_evaluate_says_when_light_was_set_aside(refs) -> None:
    report = evaluate(night(inked(hopper())), style_refs=refs, lighting=lighting_of(refs))
    style = report.metrics['style']
    assert style.extra['relit'] is True and 'light set aside' in style.detail
    assert 'relit' not in evaluate(inked(hopper()), style_refs=refs).metrics['style'].extra
