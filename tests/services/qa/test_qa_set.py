"""The labelled set QA accuracy is measured on (benchmarks/qa_set): its milder variant is milder, and its hard
composition negatives (the same scene after the camera moved) are ones the check must fail."""

import json

import pytest

from benchmarks.qa_set.build import (
    ISSUE_TECHNIQUES,
    build,
    builder_fingerprint,
    composition_pair,
    identity_pair,
    panel_style_pair,
)
from services.qa.composition import composition_drift


def test_the_mild_variant_draws_larger_faces_against_photo_references() -> None:
    standard = [identity_pair(k)[3] for k in range(4)]
    mild = [identity_pair(k, 'mild')[3] for k in range(4)]
    assert all(m['ref_style'] == 'photo' for m in mild)
    assert min(w for m in mild for w in m['face_widths']) >= 110
    smallest = min(w for m in standard for w in m['face_widths'])
    assert smallest < 110  # the standard set keeps its small faces
    assert [m['shown'] for m in mild] != [s['shown'] for s in standard]  # other seeds, other pairs


def test_the_mild_variant_refuses_composition_pairs(tmp_path) -> None:
    with pytest.raises(ValueError, match='no composition pairs'):
        build(tmp_path, {'identity': 1, 'composition': 1}, 'mild')


def test_the_mild_variants_style_pairs_are_character_panels_the_negatives_the_same_person() -> None:
    pairs = [panel_style_pair(k) for k in range(8)]
    for half in (0, 1):  # both halves of the split hold every technique
        assert {m['ref_style'] for *_, m in pairs[half::2]} == set(ISSUE_TECHNIQUES)
    assert {same for _, _, same, _ in pairs} == {True, False}
    for _, _, same, m in pairs:
        assert m['ref_content'].startswith('panel:')
        assert (m['cand_content'] == m['ref_content']) != same  # another person in the style, or the same in another
        assert (m['cand_style'] == m['ref_style']) == same


@pytest.mark.parametrize('k', [5, 16, 37])  # a zoom, a mirror image and a pan of the scene
def test_a_scene_after_the_camera_moved_fails_composition(k: int) -> None:
    scene, cand, same, meta = composition_pair(k)
    assert not same and meta['shown'] == meta['scene'] and meta['moved']
    assert composition_drift(cand, scene).verdict == 'fail'


def test_a_set_records_the_code_that_drew_it(tmp_path) -> None:
    build(tmp_path, {'composition': 1})
    labels = json.loads((tmp_path / 'labels.json').read_text())
    assert labels['builder'] == builder_fingerprint() and len(labels['builder']) == 16
