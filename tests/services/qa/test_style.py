"""Style similarity follows the rendering style, not the picture's content."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from benchmarks.qa_set.stylise import STYLES
from services.errors import Invalid
from services.qa.style import (
    LIGHT_FREE_WEIGHTS,
    TYPICAL,
    WEIGHTS,
    StyleProfile,
    build_style_profile,
    style_similarity,
)
from tests.services.qa import halftone, hopper, inked, noir, photo, reinhard, restylings, watercolour

REF_NAMES = ('coffee', 'rocket', 'chelsea', 'immunohistochemistry')


@pytest.fixture(scope='module')
def refs() -> list[np.ndarray]:
    return [photo(n) for n in REF_NAMES]


@pytest.fixture(scope='module')
def profiles(refs: list[np.ndarray]) -> dict[str, StyleProfile]:
    styles = restylings()
    return {
        name: build_style_profile([styles[name](r) for r in refs])
        for name in ('inked', 'watercolour', 'noir', 'reinhard')
    }


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
    assert set(comps) == set(WEIGHTS)
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


@pytest.mark.parametrize(
    ('style', 'other', 'picture', 'another'),
    [('ink-levels', 'cel-plain', 'chelsea', 'rocket'), ('ink-levels', 'wash', 'astronaut', 'rocket')],
    ids=['posterised-ink-vs-cel', 'posterised-ink-vs-wash'],
)
def test_texture_and_exact_colours_separate_what_hue_and_value_confused(style, other, picture, another) -> None:
    # the labelled set's stylisations, no palette of their own: the colours follow the picture. The same picture in
    # the other style against another picture in the ref's style; the version-2 score (hue, saturation, value, a*b*
    # palette, gradient magnitudes) ranked these the wrong way round, by 0.10 and 0.03
    styles = {s.name: s for s in STYLES}
    draw = lambda name, img: styles[name].apply(img, np.random.default_rng(0))  # noqa: E731
    profile = build_style_profile([draw(style, photo(picture))])
    same = style_similarity(draw(style, photo(another)), profile)
    hard = style_similarity(draw(other, photo(picture)), profile)
    assert same.value > hard.value + 0.15
    new, old = same.extra['components'], hard.extra['components']
    assert all(new[k] > old[k] for k in ('edge_texture', 'channel_levels', 'exact_colours', 'fill_gradients'))
    assert new['hue'] < old['hue']  # the colour the old score leaned on points the wrong way


@pytest.mark.parametrize('light_free', [False, True], ids=['full', 'light-free'])
def test_a_mirrored_picture_scores_as_itself(profiles: dict, light_free: bool) -> None:
    img = cv2.resize(inked(photo('astronaut')), (700, 530), interpolation=cv2.INTER_AREA)  # not a multiple of 512
    mirrored = np.ascontiguousarray(img[:, ::-1])
    for profile in profiles.values():
        a = style_similarity(img, profile, light_free=light_free)
        b = style_similarity(mirrored, profile, light_free=light_free)
        assert abs(a.value - b.value) <= 0.01
        assert all(abs(a.extra['components'][k] - b.extra['components'][k]) <= 0.02 for k in a.extra['components'])


def test_a_profile_stored_by_the_previous_version_is_refused_with_a_reason(profiles: dict) -> None:
    stored_v2 = {'version': 2, 'refs': 4, 'pooled': {k: [1 / 16] * 16 for k in ('hue', 'saturation', 'value')}}
    stored_v3 = {**profiles['noir'].to_dict(), 'version': 3}  # pooled: the scale moved with the number of refs
    for stored in (stored_v2, stored_v3):
        with pytest.raises(Invalid) as e:
            StyleProfile.from_dict(stored)
        assert 'older style check' in e.value.user_message
        assert 'rebuild it from the style references' in e.value.user_message
    damaged = profiles['noir'].to_dict()
    del damaged['refs'][1]['exact_colours']
    with pytest.raises(Invalid, match='damaged'):
        StyleProfile.from_dict(damaged)


def test_stored_profile_is_sparse(profiles: dict) -> None:
    stored = json.dumps(profiles['inked'].to_dict())
    assert len(stored) < 30_000 * len(REF_NAMES)  # each ref's 32 768 exact-colour bins, mostly empty (dense: 650 kB)


def people_panel(style: str, seed: list[int]) -> np.ndarray:
    """A panel of one of the labelled set's people on its backgrounds, drawn in one of its styles."""
    from benchmarks.qa_set import sources
    from benchmarks.qa_set.build import VARIANTS, panel

    rng = np.random.default_rng(seed)
    person = sorted(sources.PEOPLE)[int(rng.integers(len(sources.PEOPLE)))]
    base, _ = panel([str(rng.choice(sources.PEOPLE[person]))], None, rng, VARIANTS['mild'])
    return {s.name: s for s in STYLES}[style].apply(base, rng)


def test_more_style_refs_do_not_let_an_off_style_panel_pass() -> None:
    # four cel-shaded panels as a project's style refs, a posterised-ink panel as the candidate: no one of the refs
    # lets it pass (0.35–0.40), but version 3 pooled the refs' histograms, which broadened with each ref, and passed
    # it (0.44). Every score rose with the number of refs, so the one-ref thresholds let off-style panels through
    refs = [people_panel('cel-plain', [3, i]) for i in range(4)]
    off_style = people_panel('ink-levels', [3, 9])
    singles = [style_similarity(off_style, build_style_profile([r])) for r in refs]
    assert all(s.verdict != 'pass' for s in singles), singles
    together = style_similarity(off_style, build_style_profile(refs))
    assert together.verdict != 'pass', together
    assert together.value == pytest.approx(sum(s.value for s in singles) / len(singles), abs=1e-3)
    assert together.extra['refs'] == 4


def hue_turned(img: np.ndarray, turn: int) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + turn) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def test_a_report_names_what_differs_from_an_on_style_panel_not_the_lowest_component(profiles: dict) -> None:
    # exact colours is the lowest component of most pairs, on style or not (68–96 % of the sets' pairs), so naming
    # the lowest told the artist nothing; the one that costs the score most against an on-style panel tells what moved
    drawn = inked(photo('astronaut'))
    soft = style_similarity(cv2.GaussianBlur(drawn, (0, 0), 2), profiles['inked'])
    lowest = min(soft.extra['components'], key=soft.extra['components'].get)
    assert lowest == 'exact_colours' and soft.extra['weakest'] == 'edge_texture', soft.extra
    recoloured = style_similarity(hue_turned(drawn, 30), profiles['inked'])
    # the refs share one five-colour ink palette, so its very colours are what an on-style panel keeps (~0.46)
    assert recoloured.verdict == 'warn' and recoloured.extra['weakest'] == 'exact_colours', recoloured
    assert "furthest in the palette's very colours (0.04, on style ~0.46)" in recoloured.detail
    relit = style_similarity(hue_turned(drawn, 30), profiles['inked'], light_free=True)
    assert relit.extra['weakest'] in LIGHT_FREE_WEIGHTS


def test_on_style_is_what_the_refs_score_against_each_other(profiles: dict) -> None:
    # the inked refs are busy and quiet pictures: coffee uses four times the colours of the astronaut at 256 px, so
    # every panel scores lower on colour count against them; measured against the set's single-ref median (0.83),
    # the count was named as what moved in every warning, a recoloured panel's too
    profile = profiles['inked']
    assert profile.typical['colour_count'] < TYPICAL['colour_count'] - 0.2
    assert profile.typical['exact_colours'] > TYPICAL['exact_colours']  # one shared palette
    assert build_style_profile([inked(photo('coffee'))]).typical == TYPICAL


@pytest.mark.parametrize('seed', [4, 5, 6])
def test_cel_shaded_panels_are_told_from_the_same_person_in_another_technique(seed: int) -> None:
    # cel shading keeps each picture's own colours, so hues and exact colours differ between two cel-shaded panels;
    # the score without colour count failed another person in the style (0.32 < 0.33, seed 4) or passed the same
    # person in posterised ink above them (0.42 against 0.37, seed 6). How many colours a technique uses tells them
    refs = build_style_profile([people_panel('cel-plain', [seed, i]) for i in range(3)])
    on_style = [style_similarity(people_panel('cel-plain', [seed, j]), refs) for j in (7, 8, 9)]
    others = [style_similarity(people_panel(s, [seed, 8]), refs) for s in ('ink-levels', 'comic-pop', 'noir')]
    assert all(r.verdict != 'fail' for r in on_style), on_style
    assert min(r.value for r in on_style) > max(r.value for r in others), (on_style, others)
