"""Identity accepts the same person under edits, rejects another person, and never passes without a face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from services.errors import Invalid
from services.qa import identity
from services.qa.calibration import IdentityBand
from services.qa.identity import assign, face_distance, face_encodings, find_faces, identity_check, models_available
from services.qa.thresholds import QAThresholds
from tests.services.qa import halftone, hopper, jitter, photo, rotate


@pytest.fixture(scope='module')
def hopper_ref() -> np.ndarray:
    encs = face_encodings(hopper())
    assert len(encs) == 1
    return encs[0]


@pytest.fixture(scope='module')
def collins_ref() -> np.ndarray:
    encs = face_encodings(photo('astronaut'))
    assert len(encs) == 1  # the mission patch is not a face
    return encs[0]


def test_faces_found_with_boxes_in_input_pixels() -> None:
    (face,) = find_faces(hopper())
    left, top, right, bottom = face.box
    assert 120 < left < 220 and 100 < top < 200 and right - left > 120
    assert face.encoding.shape == (128,)
    big = cv2.resize(hopper(), None, fx=2.4, fy=2.4)  # shrunk to 1024 for detection, box scaled back
    (face_big,) = find_faces(big)
    assert abs(face_big.box[0] - left * 2.4) < 30


@pytest.mark.parametrize(
    'edit',
    [
        lambda img: img[60:460, 60:460],
        lambda img: np.ascontiguousarray(img[:, ::-1]),
        lambda img: rotate(img, 8),
        jitter,
        lambda img: cv2.resize(img, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA),
    ],
    ids=['crop', 'flip', 'rotate', 'jitter', 'small'],
)
def test_same_person_passes(edit, hopper_ref: np.ndarray, collins_ref: np.ndarray) -> None:
    res = identity_check(edit(hopper()), {'grace': [hopper_ref]})
    assert res.verdict == 'pass', res
    assert res.value <= 0.6 and res.threshold == QAThresholds().identity_max_distance
    assert res.extra['characters']['grace']['verdict'] == 'pass'


def test_other_person_fails(hopper_ref: np.ndarray, collins_ref: np.ndarray) -> None:
    assert face_distance(hopper_ref, collins_ref) > 0.6
    photo_band = {'grace': IdentityBand(0.6, 0.6)}  # photos against photos: dlib's own cut
    res = identity_check(photo('astronaut'), {'grace': [hopper_ref]}, bands=photo_band)
    assert res.verdict == 'fail' and res.value > 0.6
    assert res.extra['characters']['grace'] == {**res.extra['characters']['grace'], 'verdict': 'fail', 'face': 0}
    drawn = identity_check(photo('astronaut'), {'grace': [hopper_ref]})  # the stylised prior: not a pass either
    assert drawn.verdict in ('warn', 'fail') and drawn.value == res.value
    strict = QAThresholds(identity_max_distance=0.01, identity_warn_margin=0)
    assert identity_check(jitter(hopper()), {'grace': [hopper_ref]}, strict).verdict == 'fail'


def test_no_face_is_unverified(hopper_ref: np.ndarray) -> None:
    res = identity_check(photo('coffee')[::2, ::2], {'grace': [hopper_ref]})
    assert res.verdict == 'unverified' and res.value is None and res.extra['faces_found'] == 0
    assert res.extra['reason'] == 'no face in candidate' == res.extra['characters']['grace']['reason']


def test_faces_are_matched_one_to_one(hopper_ref: np.ndarray, collins_ref: np.ndarray) -> None:
    h = cv2.resize(hopper(), (437, 512))
    pair = np.ascontiguousarray(np.hstack([photo('astronaut'), h]))
    lookalike = collins_ref + np.random.default_rng(0).normal(0, 0.25 / np.sqrt(128), 128)  # ~0.25 from Collins
    res = identity_check(pair, {'grace': [hopper_ref], 'eileen': [collins_ref], 'extra': [lookalike]})
    per = res.extra['characters']
    assert per['grace']['verdict'] == per['eileen']['verdict'] == 'pass'
    assert per['grace']['face'] != per['eileen']['face']
    assert per['extra']['verdict'] == 'unverified'  # the closest face already went to eileen
    assert per['extra']['reason'] == 'no face left for this character' and res.extra['unmatched'] == ['extra']
    assert res.verdict == 'unverified' and res.extra['extra_faces'] == []
    no_refs = identity_check(hopper(), {'grace': [hopper_ref], 'nobody': []})
    assert no_refs.extra['characters']['nobody']['reason'] == 'no reference encodings'
    assert no_refs.verdict == 'unverified'


def test_every_character_gets_its_own_face_and_extra_faces_are_reported(
    hopper_ref: np.ndarray, collins_ref: np.ndarray
) -> None:
    h = cv2.resize(hopper(), (437, 512))
    crowd = np.ascontiguousarray(np.hstack([h, photo('astronaut'), h[:, ::-1]]))
    res = identity_check(crowd, {'eileen': [collins_ref], 'grace': [hopper_ref]})
    per = res.extra['characters']
    assert res.verdict == 'pass' and res.extra['faces_found'] == 3
    assert 437 <= per['eileen']['box'][0] < 949 and (per['grace']['box'][0] < 437 or per['grace']['box'][0] >= 949)
    (other,) = res.extra['extra_faces']  # the second Grace is nobody's face: reported, not matched
    assert (
        other['nearest'] == 'grace'
        and other['distance'] < 0.45  # the photo itself against its posterised reference: ≈ 0.3
        and other['face'] not in (per['grace']['face'], per['eileen']['face'])
    )
    assert 'other face' in res.detail


def test_assignment_is_optimal_not_greedy() -> None:
    # greedy takes the single closest pair (0→0, 0.30) and leaves character 1 with 0.90; the optimum is 0.67
    cost = np.array([[0.30, 0.35], [0.32, 0.90]])
    assert assign(cost) == [(0, 1), (1, 0)]
    assert assign(np.array([[0.5], [0.2], [0.4]])) == [(1, 0)]  # more characters than faces: the best one gets it
    assert assign(np.zeros((2, 0))) == []
    many = np.random.default_rng(0).random((3, 60))  # a crowd: greedy stands in, still one face per character
    pairs = assign(many)
    assert len(pairs) == 3 and len({c for _, c in pairs}) == 3


def test_missing_models_make_identity_unverified(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv('KROMA_FACE_MODELS_DIR', str(tmp_path))
    assert not models_available()
    with pytest.raises(identity.IdentityUnavailable, match='model files missing'):
        face_encodings(hopper())
    res = identity_check(hopper(), {'grace': [np.zeros(128)]})
    assert res.verdict == 'unverified' and 'unavailable' in res.detail and 'unavailable' in res.extra['reason']


@pytest.mark.parametrize('bad', [[np.zeros(127)], [np.zeros(256)], [np.full(128, np.nan)], ['x']])
def test_malformed_references_are_invalid(bad: list) -> None:
    with pytest.raises(Invalid):
        identity_check(hopper(), {'grace': bad})


def test_a_face_nearer_another_character_fails_even_inside_the_band(
    hopper_ref: np.ndarray, collins_ref: np.ndarray
) -> None:
    loose = {'eileen': IdentityBand(0.95, 1.0)}  # wide enough that Grace's face would pass as Eileen
    alone = identity_check(hopper(), {'eileen': [collins_ref]}, bands=loose)
    assert alone.verdict == 'pass'
    told = identity_check(hopper(), {'eileen': [collins_ref]}, bands=loose, others={'grace': [hopper_ref]})
    row = told.extra['characters']['eileen']
    assert told.verdict == 'fail' and row['looks_like'] == 'grace' and row['looks_like_distance'] < 0.45
    assert 'looks like grace' in told.detail
    both = identity_check(hopper(), {'grace': [hopper_ref]}, others={'eileen': [collins_ref]})
    assert both.verdict == 'pass' and 'looks_like' not in both.extra['characters']['grace']


def test_a_drawn_face_beside_a_clear_stranger_is_still_found(hopper_ref: np.ndarray) -> None:
    # the first pass finds only the stranger's clear face; a non-match makes the cascade look again, all the way
    from tests.services.qa import hatched

    drawn = cv2.resize(rotate(hatched(hopper()), 12), (437, 512))
    panel = np.ascontiguousarray(np.hstack([photo('astronaut'), drawn]))
    res = identity_check(panel, {'grace': [hopper_ref]})
    grace = res.extra['characters']['grace']
    assert res.verdict == 'pass' and grace['box'][0] >= 512
    (stranger,) = res.extra['extra_faces']
    assert stranger['box'][0] < 512


def test_only_an_undecided_match_pays_for_the_mirror_pass(
    monkeypatch: pytest.MonkeyPatch, hopper_ref: np.ndarray
) -> None:
    refined: list[int] = []
    original = identity.refine
    monkeypatch.setattr(identity, 'refine', lambda fs: refined.append(len(fs)) or original(fs))
    assert identity_check(hopper(), {'grace': [hopper_ref]}).verdict == 'pass'
    assert refined == []  # distance ≈ 0: decisive on the one-pass encoding
    drawn = halftone(hopper())
    (cheap,) = find_faces(drawn, mirror=False)
    d = face_distance(cheap.encoding, hopper_ref)
    at_the_edge = QAThresholds(identity_max_distance=round(d + 0.01, 3), identity_warn_margin=0.0)
    result = identity_check(drawn, {'grace': [hopper_ref]}, at_the_edge)
    assert refined == [1]  # within DECISIVE of the pass limit: the mirror pass settled it
    (full,) = find_faces(drawn)
    assert result.value == pytest.approx(face_distance(full.encoding, hopper_ref), abs=1e-4)


def _row(verdict: str, distance: float) -> dict:
    return {'verdict': verdict, 'distance': distance}


def _rival_at(distance: float) -> dict[str, np.ndarray]:
    """Another character whose one reference sits `distance` from a face encoded as all zeros."""
    ref = np.zeros((1, 128))
    ref[0, 0] = distance
    return {'eileen': ref}


def test_a_warned_match_only_a_little_nearer_a_look_alike_warns_and_names_it() -> None:
    # set pair 20: Grace drawn cel-plain warned at 0.62; Collins's photo sat at 0.57 and failed her outright
    face = np.zeros(128)
    row = _row('warn', 0.62)
    identity._check_lookalike(row, face, _rival_at(0.57))
    assert row['verdict'] == 'warn' and row['looks_like'] == 'eileen' and row['looks_like_distance'] == 0.57
    clearly = _row('warn', 0.66)
    identity._check_lookalike(clearly, face, _rival_at(0.40))
    assert clearly['verdict'] == 'fail' and clearly['looks_like'] == 'eileen'
    passed = _row('pass', 0.55)
    identity._check_lookalike(passed, face, _rival_at(0.50))
    assert passed['verdict'] == 'fail'
    near_pass = _row('pass', 0.55)
    identity._check_lookalike(near_pass, face, _rival_at(0.53))
    assert near_pass['verdict'] == 'pass' and 'looks_like' not in near_pass
    summary = identity._summarise({'grace': {**row, 'pass_max': 0.6}}, [], [], 0.6)
    assert summary.verdict == 'warn' and 'grace (0.62; looks like eileen)' in summary.detail
