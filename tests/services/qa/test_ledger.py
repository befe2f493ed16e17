"""Ledger QA on real renders: the right state passes, a contradiction warns with its entry, the unmeasurable says so."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pytest
from PIL import Image

from services.projects import demo_art
from services.providers.base import GenerationRequest, InputImage
from services.providers.local import render
from services.qa.ledger import (
    Expected,
    LedgerExpectation,
    OutfitExpected,
    dominant_colours,
    ledger_check,
    outfit_region,
)

SIZE = (480, 320)
NIGHT = Expected('night', 'chapter 1, scene 2 (Café table): time of day = night')
NAVY, YELLOW = ('#1c2233',), ('#f2c200',)


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr)).save(buf, 'PNG')
    return buf.getvalue()


def stage(image: np.ndarray, name: str, seed: int = 4, refs: tuple[InputImage, ...] = (), **params: str) -> np.ndarray:
    inputs = (InputImage('scene', png(image), 'scene'), *refs)
    return render(GenerationRequest('x', inputs, size=SIZE, stage=name, params=params), seed)


@cache
def cafe() -> np.ndarray:
    return np.asarray(demo_art.scene_images()[1][2])


@cache
def street(time: str, weather: str = 'clear') -> np.ndarray:
    return stage(stage(cafe(), 'time', time=time), 'weather', weather=weather)


@cache
def grace_in(time: str) -> np.ndarray:
    ref = InputImage('character', png(demo_art.grace_hopper().resize((384, 480))), 'Grace')
    return stage(street(time), 'character', refs=(ref,))


def checks(metric) -> dict[str, dict]:
    return {c['item']: c for c in metric.extra['checks']}


@pytest.mark.parametrize('time', ['day', 'dusk', 'night'])
def test_the_time_of_day_is_told_by_brightness_and_warmth_against_the_ungraded_scene(time) -> None:
    image = street(time)
    right = ledger_check(image, LedgerExpectation(time=Expected(time, 'the entry')), base=cafe())
    assert right.verdict == 'pass', right.detail
    for other in {'day', 'dusk', 'night'} - {time}:
        wrong = ledger_check(image, LedgerExpectation(time=Expected(other, 'the entry')), base=cafe())
        assert wrong.verdict == 'warn' and wrong.extra['contradictions'] == ['the entry']
        assert f'looks like {time}' in wrong.detail and 'against the scene before grading' in wrong.detail


def test_without_the_ungraded_scene_night_and_day_still_differ() -> None:
    day, night = Expected('day', 'e'), NIGHT
    assert ledger_check(street('night'), LedgerExpectation(time=night)).verdict == 'pass'
    assert ledger_check(street('night'), LedgerExpectation(time=day)).verdict == 'warn'
    assert ledger_check(street('day'), LedgerExpectation(time=night)).verdict == 'warn'


def test_rain_and_fog_are_measured_and_snow_is_not() -> None:
    rainy, clear = street('day', 'rain'), street('day')
    assert ledger_check(rainy, LedgerExpectation(weather=Expected('rain', 'e'))).verdict == 'pass'
    assert ledger_check(clear, LedgerExpectation(weather=Expected('rain', 'e'))).verdict == 'warn'
    assert ledger_check(rainy, LedgerExpectation(weather=Expected('clear', 'e'))).verdict == 'warn'
    foggy = ledger_check(
        street('night', 'fog'), LedgerExpectation(time=NIGHT, weather=Expected('fog', 'e')), base=cafe()
    )
    assert foggy.verdict == 'pass'
    assert checks(foggy)['time']['verdict'] == 'unverified' and 'fog hides the light' in foggy.detail
    snowy = ledger_check(street('day', 'snow'), LedgerExpectation(weather=Expected('snow', 'e')))
    assert snowy.verdict == 'unverified' and 'not measured' in snowy.detail
    night_rain = ledger_check(
        street('night', 'rain'), LedgerExpectation(time=NIGHT, weather=Expected('rain', 'e')), base=cafe()
    )
    assert night_rain.verdict == 'pass', night_rain.detail


def test_an_outfit_in_other_colours_is_a_contradiction_naming_the_entry() -> None:
    entry = 'chapter 1, scene 2 (Café table): Grace outfit = raincoat'
    image = grace_in('day')
    uniform = ledger_check(image, LedgerExpectation(outfits=(OutfitExpected('Grace', 'uniform', 'u', NAVY, 'bible'),)))
    assert uniform.verdict == 'pass', uniform.detail
    raincoat = LedgerExpectation(outfits=(OutfitExpected('Grace', 'raincoat', entry, YELLOW, 'bible'),))
    result = ledger_check(image, raincoat)
    assert result.verdict == 'warn' and result.value == 1.0
    assert result.extra['contradictions'] == [entry] and entry in result.detail
    assert checks(result)['outfit of Grace']['margin'] < 0


def test_what_pixels_cannot_tell_is_unverified_with_the_reason() -> None:
    unknown = LedgerExpectation(outfits=(OutfitExpected('Grace', 'cape', 'e'),))
    assert 'no colours known for "cape"' in ledger_check(grace_in('day'), unknown).detail
    navy = LedgerExpectation(outfits=(OutfitExpected('Grace', 'uniform', 'e', NAVY, 'bible'),))
    faceless = ledger_check(street('day'), navy)
    assert faceless.verdict == 'unverified' and 'no face found' in faceless.detail
    assert ledger_check(grace_in('day'), LedgerExpectation()).verdict == 'unverified'


def test_outfit_colours_measured_on_a_reference() -> None:
    ref = np.asarray(demo_art.grace_hopper().resize((384, 480)))
    colours = dominant_colours(outfit_region(ref, (115, 116, 270, 270)))
    assert colours and all(int(c[1:3], 16) < 80 for c in colours)  # a dark uniform
    assert outfit_region(ref, (100, 440, 200, 479)) is None  # a face at the bottom edge has no outfit in view


def test_without_dlib_models_faces_come_from_opencv(monkeypatch) -> None:
    from services.qa import ledger
    from services.qa.identity import IdentityUnavailable

    def unavailable(_image) -> list:
        raise IdentityUnavailable('Identity check unavailable: dlib is not installed.')

    monkeypatch.setattr(ledger, 'find_faces', unavailable)
    image = grace_in('day')
    ((left, top, right, bottom),) = ledger.face_boxes(image)
    assert right - left > 40 and bottom - top > 40
    uniform = LedgerExpectation(outfits=(OutfitExpected('Grace', 'uniform', 'u', NAVY, 'bible'),))
    assert ledger_check(image, uniform).verdict == 'pass'
