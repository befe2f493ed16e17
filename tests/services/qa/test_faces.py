"""The detector cascade finds faces in drawn, tilted art and only then pays for the slower passes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.qa import faces
from services.qa.faces import face_encodings, find_faces
from services.qa.identity import face_distance
from tests.services.qa import halftone, hatched, hopper, photo, rotate


@pytest.fixture(scope='module')
def hopper_ref() -> np.ndarray:
    (enc,) = face_encodings(hopper())
    return enc


@pytest.mark.parametrize(
    'drawn',
    [lambda: rotate(hatched(hopper()), 12), lambda: rotate(halftone(hopper()), 8)],
    ids=['ink-hatched-tilted-12', 'halftone-tilted-8'],
)
def test_tilted_drawn_face_is_found_and_still_close(drawn, hopper_ref: np.ndarray) -> None:
    # the single HOG pass found no face in either (the "no face in 8 % of pairs, mostly rotated, ink-hatched")
    (face,) = find_faces(drawn())
    assert face.path != 'hog'  # a later pass of the cascade found it
    left, top, right, bottom = face.box
    assert 100 < (left + right) / 2 < 380 and 120 < (top + bottom) / 2 < 360
    assert face_distance(face.encoding, hopper_ref) < 0.6


def test_clear_face_costs_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = faces._Cascade.hog

    def counting(self, *args, **kwargs):
        calls.append(args[3])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(faces._Cascade, 'hog', counting)
    (face,) = find_faces(hopper())
    assert calls == ['hog'] and face.path == 'hog'


def test_no_face_after_every_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    passes = []
    original_hog, original_cnn = faces._Cascade.hog, faces._Cascade.cnn
    monkeypatch.setattr(faces._Cascade, 'hog', lambda self, *a, **k: passes.append(a[3]) or original_hog(self, *a, **k))
    monkeypatch.setattr(faces._Cascade, 'cnn', lambda self: passes.append('cnn') or original_cnn(self))
    assert find_faces(photo('coffee')[::2, ::2]) == []
    assert passes[0] == 'hog' and passes[-1] == 'cnn' and {'smooth', 'clahe', 'tilt+8', 'tilt-15'} <= set(passes)


def test_several_expected_faces_keep_the_cascade_going() -> None:
    pair = np.ascontiguousarray(np.hstack([hopper()[:512, :437], rotate(hatched(hopper()), 12)[:512, :437]]))
    assert len(find_faces(pair, expected=1)) >= 1
    assert len(find_faces(pair, expected=2)) == 2


def test_one_pass_encoding_then_the_mirror_pass_on_demand(hopper_ref: np.ndarray) -> None:
    drawn = halftone(hopper())
    (cheap,) = find_faces(drawn, mirror=False)
    (full,) = find_faces(drawn)
    assert cheap.chip is not None and full.chip is None
    (refined,) = faces.refine([cheap])
    assert refined.chip is None and np.allclose(refined.encoding, full.encoding, atol=1e-6)
    assert face_distance(cheap.encoding, full.encoding) < 0.1  # the cheap encoding is the same face, a little noisier
    assert faces.refine([full])[0] is full  # already mirrored: no more network passes


def test_a_widened_search_looks_at_the_size_of_the_faces_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pass finds only Eileen Collins; Grace, hatched and tilted, turns up when the search is widened, and
    the widened passes run on a copy scaled to the faces found (a fraction of the panel's pixels), not the panel."""
    seen: dict[str, int] = {}
    original = faces._Cascade.hog

    def recording(self, view, *args, **kwargs):
        seen[args[2]] = view.shape[0] * view.shape[1]
        return original(self, view, *args, **kwargs)

    monkeypatch.setattr(faces._Cascade, 'hog', recording)
    collins = cv2.resize(photo('astronaut')[30:330, 70:370], (720, 720))  # her face ≈ 210 px
    grace = cv2.resize(rotate(hatched(hopper()), 12)[45:445, 70:470], (720, 720))
    panel = np.ascontiguousarray(np.hstack([collins, grace]))
    search = faces.FaceSearch(panel)
    (first,) = search.faces(mirror=False)
    assert first.box[2] < 720  # Collins, on the left
    widened = search.faces(exhaustive=True, mirror=False)
    assert len(widened) == 2 and max(f.box[0] for f in widened) > 720  # Grace, on the right
    later = [p for p in seen if p != 'hog']
    assert later and all(seen[p] < seen['hog'] / 2 for p in later)


def test_the_mirror_pass_sends_only_the_mirror_image_through_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    (cheap,) = find_faces(halftone(hopper()), mirror=False)
    detector, landmarks, encoder = faces._models()
    sent: list[int] = []

    class Counting:
        def compute_face_descriptor(self, views):
            sent.append(len(views))
            return encoder.compute_face_descriptor(views)

    monkeypatch.setattr(faces, '_models', lambda: (detector, landmarks, Counting()))
    (refined,) = faces.refine([cheap])
    assert sent == [1]  # the chip's own encoding is known: only its mirror image is encoded
    mirrored = np.asarray(encoder.compute_face_descriptor(np.ascontiguousarray(cheap.chip[:, ::-1])))
    assert np.allclose(refined.encoding, (cheap.encoding + mirrored) / 2, atol=1e-6)


def test_a_noir_hatched_face_every_other_pass_misses_is_found_descreened() -> None:
    """Pair 59 of the labelled set (Biden, noir hatching on a plain panel) was 'unverified: no face in candidate'."""
    from benchmarks.qa_set.build import identity_pair

    ref, cand, same, meta = identity_pair(59)
    assert same and meta['style'] == 'noir'
    (face,) = find_faces(cand)
    assert face.path == 'descreen'
    (reference,) = face_encodings(ref)
    assert face_distance(face.encoding, reference) < 0.8  # found where Biden is, not on the background


def test_a_reference_is_encoded_posterised_which_brings_drawn_panels_of_the_person_nearer() -> None:
    from tests.services.qa import inked, noir

    chip = faces.posterise_chip(np.ascontiguousarray(hopper()[137:352, 161:376]))
    assert len(np.unique(chip)) <= faces.REFERENCE_LEVELS and (chip[..., 0] == chip[..., 2]).all()
    (as_reference,) = face_encodings(hopper())  # posterised chips
    (as_panel,) = find_faces(hopper())  # normalised chips, as a candidate's faces are encoded
    for drawn in (inked(hopper()), noir(hopper())):
        (face,) = find_faces(drawn)
        assert face_distance(face.encoding, as_reference) < face_distance(face.encoding, as_panel.encoding)


def test_a_drawn_face_aligned_on_68_landmarks_passes_as_its_character() -> None:
    """Pair 255 of the labelled set (Biden in noir hatching against his photo) warned at 0.65 while chips were aligned
    on 5 landmarks, which a drawing misplaces; a fit over 68 points aligns the chip as the photo's is (0.55)."""
    from benchmarks.qa_set.build import identity_pair
    from services.qa.identity import identity_check

    ref, cand, same, meta = identity_pair(255)
    assert same and meta['style'] == 'noir'
    result = identity_check(cand, {'biden': face_encodings(ref)})
    assert result.verdict == 'pass', result.detail
