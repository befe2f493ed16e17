"""The labelled set QA accuracy is measured on (benchmarks/qa_set): its milder variant is really milder."""

import pytest

from benchmarks.qa_set.build import build, identity_pair


def test_the_mild_variant_draws_larger_faces_against_photo_references() -> None:
    standard = [identity_pair(k)[3] for k in range(4)]
    mild = [identity_pair(k, 'mild')[3] for k in range(4)]
    assert all(m['ref_style'] == 'photo' for m in mild)
    assert min(w for m in mild for w in m['face_widths']) >= 110
    smallest = min(w for m in standard for w in m['face_widths'])
    assert smallest < 110  # the standard set keeps its small faces
    assert [m['shown'] for m in mild] != [s['shown'] for s in standard]  # other seeds, other pairs


def test_the_mild_variant_refuses_style_pairs(tmp_path) -> None:
    with pytest.raises(ValueError, match='identity pairs only'):
        build(tmp_path, {'identity': 1, 'style': 1}, 'mild')
