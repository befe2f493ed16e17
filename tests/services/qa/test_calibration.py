"""Per-character bands: a character whose references spread wide gets a wider pass band, never past the cap."""

from __future__ import annotations

import numpy as np
import pytest

from services.qa.calibration import PASS_CAP, IdentityBand, calibrate, reference_spread
from services.qa.identity import identity_check
from services.qa.thresholds import QAThresholds


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return v / np.linalg.norm(v) * 0.5


def apart(base: np.ndarray, distance: float, seed: int) -> np.ndarray:
    """A vector exactly `distance` from base, in a random direction."""
    d = np.random.default_rng(seed).normal(size=128)
    return base + d / np.linalg.norm(d) * distance


def test_one_reference_gets_the_stylised_prior() -> None:
    t = QAThresholds()
    band = calibrate([unit(1)], t)
    assert (band.pass_max, band.fail_above, band.source) == (
        t.identity_max_distance,
        round(t.identity_max_distance + t.identity_warn_margin, 4),
        'prior',
    )
    assert band.verdict(0.60) == 'pass' and band.verdict(0.65) == 'warn'  # the old single cut failed 0.65 outright
    assert band.verdict(band.pass_max + 0.01) == 'warn' and band.verdict(band.fail_above + 0.01) == 'fail'


def test_wide_references_widen_the_band_and_a_stylised_match_passes() -> None:
    grace = unit(2)
    refs = [grace, apart(grace, 0.62, 3), apart(grace, 0.5, 4), apart(grace, 0.45, 5)]
    assert reference_spread(refs) >= 0.62
    band = calibrate(refs, QAThresholds())
    assert band.source == 'references' and band.references == 4
    assert band.pass_max > QAThresholds().identity_max_distance and band.pass_max <= PASS_CAP
    drawn = apart(grace, 0.65, 6)  # a true match drawn far from every reference
    assert band.verdict(min(np.linalg.norm(np.array(refs) - drawn, axis=1))) == 'pass'
    assert calibrate(refs[:1]).verdict(0.65) == 'warn'  # the same distance only warns on the prior
    assert 'same-face distance ≤' in band.describe('Grace') and 'for Grace, from 4 references' in band.describe('Grace')


def test_tight_or_disagreeing_references_keep_the_prior() -> None:
    a = unit(7)
    assert calibrate([a, apart(a, 0.3, 8)]).source == 'prior'
    wrong = calibrate([a, apart(a, 1.1, 9)])
    assert wrong.source == 'prior' and wrong.references_disagree


def test_band_round_trips_and_old_versions_are_dropped() -> None:
    band = calibrate([unit(1), apart(unit(1), 0.7, 2)])
    assert IdentityBand.from_dict(band.to_dict()) == band
    assert IdentityBand.from_dict({**band.to_dict(), 'version': 0}) is None
    assert IdentityBand.from_dict({'version': band.version, 'pass_max': 'x'}) is None


@pytest.mark.parametrize('strict', [0.01])
def test_project_settings_still_rule(strict: float) -> None:
    t = QAThresholds(identity_max_distance=strict, identity_warn_margin=0.0)
    assert calibrate([unit(1)], t).verdict(0.02) == 'fail'


def test_check_uses_the_given_band(tmp_path) -> None:
    from services.qa.identity import face_encodings
    from tests.services.qa import hopper

    (ref,) = face_encodings(hopper())
    tight = IdentityBand(pass_max=0.0001, fail_above=0.0002)
    res = identity_check(hopper()[:, ::-1], {'grace': [ref]}, bands={'grace': tight})
    assert res.verdict == 'fail' and res.threshold == 0.0001
    assert res.extra['characters']['grace']['pass_max'] == 0.0001
