"""Technical checks catch small, soft and clipped images."""

from __future__ import annotations

import cv2

from services.qa.technical import technical
from services.qa.thresholds import QAThresholds
from tests.services.qa import hopper, photo


def test_sharp_photo_passes() -> None:
    res = technical(photo('astronaut'))
    assert res.verdict == 'pass', res.detail
    assert res.extra['parts'] == {'dimensions': 'pass', 'sharpness': 'pass', 'clipping': 'pass'}
    assert res.value == res.extra['sharpness'] > 0.05


def test_blurred_image_warns() -> None:
    soft = cv2.GaussianBlur(hopper(), (0, 0), 3)
    res = technical(soft)
    assert res.verdict == 'warn' and res.extra['parts']['sharpness'] == 'warn'
    assert res.value < technical(hopper()).value


def test_too_small_fails_and_clipping_warns() -> None:
    assert technical(photo('coffee')).extra['parts']['dimensions'] == 'fail'  # 600×400 < 512 high
    assert technical(photo('coffee'), QAThresholds(min_height=400)).extra['parts']['dimensions'] == 'pass'
    img = photo('astronaut')
    img[:300] = 255
    res = technical(img)
    assert res.extra['parts']['clipping'] == 'warn' and res.extra['clipped_white'] >= 300 / 512


def test_sharpness_does_not_depend_on_resolution() -> None:
    img = photo('astronaut')
    big = cv2.resize(img, (1024, 1024), interpolation=cv2.INTER_LANCZOS4)
    assert abs(technical(big).value - technical(img).value) / technical(img).value < 0.35
