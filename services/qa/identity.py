"""Character identity: every present character matched to one face in the panel, judged on its own distance band."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.errors import Invalid
from services.qa.calibration import IdentityBand, calibrate
from services.qa.face_models import IdentityUnavailable, models_available, models_dir
from services.qa.faces import Face, FaceSearch, face_encodings, find_faces, refine
from services.qa.thresholds import FAIL, PASS, UNVERIFIED, WARN, ImageInput, MetricResult, QAThresholds, as_rgb

__all__ = [
    'Face',
    'IdentityUnavailable',
    'assign',
    'face_distance',
    'face_encodings',
    'find_faces',
    'identity_check',
    'models_available',
    'models_dir',
]
MAX_PERMUTATIONS = 50_000  # exact assignment by enumeration up to this many; a greedy pick beyond (crowds)
LOOKALIKE_MARGIN = 0.03  # a face this much nearer another of the project's characters is that character, not ours
# … but a match already in the warn band sits far from its character, so another character of the same age and
# gender is often a little nearer by chance: there it fails only when clearly nearer, otherwise it warns and names
# the look-alike. With the look-alike in the cast (benchmarks/qa_accuracy.py), on the labelled set's calibration half
# every margin from 0.08 up fails the fewest true matches (4.5 % → 3.4 %); 0.10 sits inside that range (held-out:
# 8.2 % → 4.1 %, 2.7 % with no cast; 0.08 would fail 6.8 %), while 77 % of look-alikes still fail (held-out 81 %)
# and none more pass.
LOOKALIKE_WARN_MARGIN = 0.10
DECISIVE = 0.06  # a one-pass encoding this far from a band edge keeps its verdict; nearer, the mirror pass settles it


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between embeddings; dlib's photo same-person threshold is 0.6."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def _reference_arrays(name: str, refs: Sequence[np.ndarray]) -> np.ndarray:
    """Stack a character's reference encodings, refusing anything that is not 128 finite numbers."""
    try:
        rows = [np.asarray(r, dtype=np.float64).ravel() for r in refs]
    except (TypeError, ValueError) as e:
        raise Invalid(f'Face references of {name} must be 128-number encodings.', code='qa_face_reference') from e
    if any(r.shape != (128,) for r in rows):
        raise Invalid(f'Face references of {name} must be 128-number encodings.', code='qa_face_reference')
    arr = np.array(rows).reshape(-1, 128)
    if not np.isfinite(arr).all():
        raise Invalid(f'Face references of {name} hold NaN or infinite values.', code='qa_face_reference')
    return arr


def assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Rows (characters) to columns (faces), one-to-one, as many pairs as possible at the least total cost."""
    rows, cols = cost.shape
    if not rows or not cols:
        return []
    k = min(rows, cols)
    row_sets = [tuple(range(rows))] if rows <= cols else list(itertools.combinations(range(rows), k))
    count = sum(1 for _ in itertools.islice(itertools.permutations(range(cols), k), MAX_PERMUTATIONS + 1))
    if count * len(row_sets) > MAX_PERMUTATIONS:
        pairs, used_r, used_c = [], set(), set()
        for flat in np.argsort(cost, axis=None):
            r, c = divmod(int(flat), cols)
            if r not in used_r and c not in used_c:
                pairs.append((r, c))
                used_r.add(r)
                used_c.add(c)
        return sorted(pairs)
    best: tuple[float, list[tuple[int, int]]] = (float('inf'), [])
    for rs in row_sets:
        for perm in itertools.permutations(range(cols), k):
            total = float(sum(cost[r, c] for r, c in zip(rs, perm, strict=True)))
            if total < best[0]:
                best = (total, list(zip(rs, perm, strict=True)))
    return best[1]


def _unverified(names: Sequence[str], limit: float, reason: str, faces: int = 0) -> MetricResult:
    per = {n: {'verdict': UNVERIFIED, 'distance': None, 'reason': reason} for n in names}
    extra = {'characters': per, 'faces_found': faces, 'extra_faces': [], 'unmatched': list(names), 'reason': reason}
    return MetricResult('identity', None, UNVERIFIED, limit, reason, extra)


def identity_check(
    image: ImageInput,
    characters: Mapping[str, Sequence[np.ndarray]],
    thresholds: QAThresholds = QAThresholds(),
    bands: Mapping[str, IdentityBand] | None = None,
    others: Mapping[str, Sequence[np.ndarray]] | None = None,
) -> MetricResult:
    """Match faces to characters one-to-one (least total distance); judge each on its band; never pass blind.

    A character's distance to a face is its nearest reference (the closest angle counts). Overall: fail if any
    character fails, else unverified if any could not be matched, else warn if any warns, else pass; the value is
    the worst matched distance and the threshold that character's pass limit. `others` are the project's characters
    not in the panel: a face clearly nearer one of them fails even inside the band (it is drawn as someone else)."""
    limit = thresholds.identity_max_distance
    refs = {name: _reference_arrays(name, r) for name, r in characters.items()}
    band = {n: (bands or {}).get(n) or calibrate(list(a), thresholds) for n, a in refs.items()}
    rivals = {n: _reference_arrays(n, r) for n, r in (others or {}).items() if n not in refs and len(r)}
    with_refs = [n for n, a in refs.items() if len(a)]
    cast = _Cast(refs, with_refs, band, rivals)
    rgb = as_rgb(image)
    try:
        search = FaceSearch(rgb, expected=max(1, len(with_refs)))
        faces, per, cost = cast.settle(search.quick())
        if not cast.clear_pass(per):  # the cheap path did not settle it: the whole cascade
            found = search.faces(mirror=False)
            if [f.box for f in found] != [f.box for f in faces]:  # the same faces keep their settled encodings
                faces, per, cost = cast.settle(found)
            if faces and any(p['verdict'] != PASS for p in per.values()):  # the face found first may be someone else's
                more = search.faces(exhaustive=True, mirror=False)  # only passes not run yet, only new faces encoded
                if len(more) > len(faces):
                    faces, per, cost = cast.settle(more)
    except IdentityUnavailable as e:
        return _unverified(list(characters), limit, e.user_message)
    if not faces and with_refs:
        return _unverified(list(characters), limit, 'no face in candidate')
    for name, arr in refs.items():
        if name not in per:
            reason = 'no reference encodings' if not len(arr) else 'no face left for this character'
            per[name] = {'verdict': UNVERIFIED, 'distance': None, 'reason': reason}
        per[name]['references'] = len(arr)
    matched = {p['face'] for p in per.values() if 'face' in p}
    extra_faces = []
    for i, f in enumerate(faces):
        if i in matched:
            continue
        row = {'face': i, 'box': list(f.box)}
        if with_refs:
            j = int(np.argmin(cost[:, i]))
            row.update(nearest=with_refs[j], distance=round(float(cost[j, i]), 4))
        extra_faces.append(row)
    return _summarise(per, faces, extra_faces, limit)


@dataclass(frozen=True)
class _Cast:
    """The characters a panel is judged against: their reference encodings, bands, and the project's others."""

    refs: Mapping[str, np.ndarray]
    with_refs: list[str]  # the characters that have reference encodings, in row order of the cost matrix
    band: Mapping[str, IdentityBand]
    rivals: Mapping[str, np.ndarray]

    def clear_pass(self, per: Mapping[str, dict]) -> bool:
        """Every character matched, each well inside its pass limit (not near the edge, not a look-alike)."""
        return bool(self.with_refs) and all(
            n in per and per[n]['verdict'] == PASS and per[n]['distance'] < self.band[n].pass_max - DECISIVE
            for n in self.with_refs
        )

    def settle(self, faces: list[Face]) -> tuple[list[Face], dict[str, dict], np.ndarray]:
        """Match on one-pass encodings; matched faces that sit near a band edge get the mirror pass and are matched
        again (a clear pass or a clear fail costs one network pass per face)."""
        per, cost = self.match(faces)
        near = [
            p['face']
            for n, p in per.items()
            if min(abs(p['distance'] - self.band[n].pass_max), abs(p['distance'] - self.band[n].fail_above)) < DECISIVE
        ]
        if any(faces[i].chip is not None for i in near):
            faces = list(faces)
            for i, f in zip(near, refine([faces[i] for i in near]), strict=True):
                faces[i] = f
            per, cost = self.match(faces)
        return faces, per, cost

    def match(self, faces: list[Face]) -> tuple[dict[str, dict], np.ndarray]:
        """Assign faces to characters and judge each match on its band; also the cost matrix (characters × faces)."""
        names = self.with_refs
        cost = np.array(
            [[float(np.min(np.linalg.norm(self.refs[n] - f.encoding, axis=1))) for f in faces] for n in names]
        )
        cost = cost.reshape(len(names), len(faces))
        per: dict[str, dict] = {}
        for r, c in assign(cost):
            name, dist = names[r], cost[r, c]
            b = self.band[name]
            per[name] = {
                'verdict': b.verdict(dist),
                'distance': round(dist, 4),
                'face': c,
                'box': list(faces[c].box),
                'pass_max': b.pass_max,
                'fail_above': b.fail_above,
                'band': b.source,
            }
            _check_lookalike(per[name], faces[c].encoding, self.rivals)
        return per, cost


def _check_lookalike(row: dict, encoding: np.ndarray, rivals: Mapping[str, np.ndarray]) -> None:
    """Fail a match whose face sits clearly nearer another character of the project; a warned match a little nearer
    another keeps its warning and names the look-alike."""
    if not rivals or row['verdict'] == FAIL:
        return
    near, who = min((float(np.min(np.linalg.norm(a - encoding, axis=1))), n) for n, a in rivals.items())
    if near >= row['distance']:
        return
    margin = LOOKALIKE_WARN_MARGIN if row['verdict'] == WARN else LOOKALIKE_MARGIN
    if near + margin < row['distance']:
        row['verdict'] = FAIL
    if row['verdict'] != PASS:  # failed now, or a warning that names who the face resembles
        row.update(looks_like=who, looks_like_distance=round(near, 4))


def _named(name: str, row: dict) -> str:
    """'grace (0.63)', or 'grace (0.63; looks like eileen)' when another character of the project is nearer."""
    lookalike = f'; looks like {row["looks_like"]}' if 'looks_like' in row else ''
    return f'{name} ({row["distance"]:.2f}{lookalike})'


def _summarise(per: dict[str, dict], faces: list[Face], extra_faces: list[dict], limit: float) -> MetricResult:
    verdicts = [p['verdict'] for p in per.values()]
    scored = [(p['distance'], p['pass_max']) for p in per.values() if p['distance'] is not None]
    value, threshold = max(scored) if scored else (None, limit)
    unmatched = [n for n, p in per.items() if p['verdict'] == UNVERIFIED]
    extra = {'characters': per, 'faces_found': len(faces), 'extra_faces': extra_faces, 'unmatched': unmatched}
    if FAIL in verdicts:
        verdict = FAIL
        detail = 'face does not match: ' + ', '.join(_named(n, per[n]) for n in per if per[n]['verdict'] == FAIL)
    elif unmatched or not verdicts:
        verdict = UNVERIFIED
        extra['reason'] = per[unmatched[0]]['reason'] if unmatched else 'no characters given'
        detail = f'{len(faces)} face(s) found; unverified: ' + (', '.join(unmatched) or 'no characters given')
    elif WARN in verdicts:
        verdict = WARN
        detail = 'face drifting: ' + ', '.join(_named(n, per[n]) for n in per if per[n]['verdict'] == WARN)
    else:
        verdict, detail = PASS, f'all {len(per)} character(s) match (worst distance {value:.2f})'
    if extra_faces:
        detail += f'; {len(extra_faces)} other face(s)'
    return MetricResult('identity', value, verdict, threshold, detail, extra)
