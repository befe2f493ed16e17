"""Style similarity follows the rendering style, not the picture's content."""

from __future__ import annotations

import json

import numpy as np
import pytest

from services.errors import Invalid
from services.qa.style import StyleProfile, build_style_profile, style_similarity
from tests.services.qa import halftone, hopper, inked, noir, photo, reinhard, watercolour

REF_NAMES = ('coffee', 'rocket', 'chelsea', 'immunohistochemistry')


@pytest.fixture(scope='module')
def refs() -> list[np.ndarray]:
    return [photo(n) for n in REF_NAMES]


@pytest.fixture(scope='module')
def profiles(refs: list[np.ndarray]) -> dict[str, StyleProfile]:
    target = inked(photo('coffee'))
    styles = {
        'inked': inked,
        'watercolour': watercolour,
        'noir': noir,
        'reinhard': lambda img: reinhard(img, target),
    }
    return {name: build_style_profile([fn(r) for r in refs]) for name, fn in styles.items()}


@pytest.mark.parametrize('scene', [photo('astronaut'), hopper()], ids=['astronaut', 'hopper'])
def test_scene_in_refs_style_beats_a_very_different_style(scene: np.ndarray, profiles: dict) -> None:
    ink = inked(scene)
    own = style_similarity(ink, profiles['inked'])
    assert own.verdict == 'pass', own
    for other in ('watercolour', 'noir'):
        assert own.value > style_similarity(ink, profiles[other]).value + 0.15
    assert style_similarity(ink, profiles['watercolour']).verdict == 'fail'
    wc = watercolour(scene)
    assert style_similarity(wc, profiles['watercolour']).value > style_similarity(wc, profiles['inked']).value + 0.15
    bw = noir(scene)
    assert style_similarity(bw, profiles['noir']).value > style_similarity(bw, profiles['inked']).value + 0.15


def test_reinhard_transfer_matches_refs_transferred_the_same_way(profiles: dict) -> None:
    scene = reinhard(photo('astronaut'), inked(photo('coffee')))
    score = style_similarity(scene, profiles['reinhard']).value
    assert score >= 0.6
    assert score > max(style_similarity(scene, profiles[s]).value for s in ('inked', 'watercolour', 'noir')) + 0.1


def test_restyled_copy_is_closer_to_its_style_than_to_its_own_original(profiles: dict) -> None:
    for scene in (photo('astronaut'), hopper()):
        copy = inked(scene)
        versus_original = style_similarity(copy, build_style_profile([scene])).value
        assert style_similarity(copy, profiles['inked']).value > versus_original + 0.08


def test_components_are_reported(profiles: dict) -> None:
    res = style_similarity(inked(hopper()), profiles['inked'])
    comps = res.extra['components']
    assert set(comps) == {'hue', 'saturation', 'value', 'palette', 'gradients'}
    assert all(0 <= v <= 1 for v in comps.values())
    assert res.extra['refs'] == len(REF_NAMES)


def test_profile_survives_json(profiles: dict) -> None:
    p = profiles['noir']
    restored = StyleProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    img = noir(hopper())
    assert style_similarity(img, restored).value == style_similarity(img, p).value
    with pytest.raises(Invalid):
        StyleProfile.from_dict({**p.to_dict(), 'version': 0})


def test_no_refs_is_invalid() -> None:
    with pytest.raises(Invalid):
        build_style_profile([])


@pytest.mark.parametrize(
    ('style', 'other'),
    [(halftone, inked), (inked, halftone), (watercolour, inked)],
    ids=['halftone-vs-inked', 'inked-vs-halftone', 'wash-vs-inked'],
)
def test_same_style_other_picture_beats_same_picture_other_style(style, other) -> None:
    # the hard negative of the issue: the same person in a confusable style must score below another picture in the
    # reference's own style
    profile = build_style_profile([style(hopper())])
    same_style = style_similarity(style(photo('astronaut')), profile).value
    same_person = style_similarity(other(hopper()), profile).value
    assert same_style > same_person + 0.05
