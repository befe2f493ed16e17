"""Per-character identity bands: how far a drawn face may sit from the character's references and still be them.

dlib's 0.6 is a photo-to-photo threshold on raw chips; drawn faces (flat fills, ink, hatching) sit further from the
photos they were drawn from. The encodings here compare a panel's contrast-normalised chip with the reference's
posterised chip (faces.posterise_chip), which pulls true matches in more than other people. The band starts from a
prior measured on stylised true matches (the project's identity_max_distance, pass, plus identity_warn_margin, warn)
and widens for a character whose own references already spread wide — a character drawn in several ways is further
from any one reference — up to a cap beyond which other people start to pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from services.qa.thresholds import FAIL, PASS, WARN, QAThresholds

CALIBRATION_VERSION = 1
SPREAD_MARGIN = 0.04  # a candidate may sit this much further from the nearest reference than refs sit from each other
PASS_CAP = (
    0.66  # never pass further than this, however wide the references spread (half of other people sit below 0.64)
)
REFS_DISAGREE = 0.80  # references further apart than this are probably not all the same person


@dataclass(frozen=True)
class IdentityBand:
    """distance ≤ pass_max passes, ≤ fail_above warns, further fails; how it was derived travels with it."""

    pass_max: float
    fail_above: float
    references: int = 0
    spread: float | None = None  # the references' largest pairwise distance (None with fewer than two)
    source: str = 'prior'  # 'prior' (project defaults) or 'references' (widened by the references' spread)
    version: int = CALIBRATION_VERSION

    def verdict(self, distance: float) -> str:
        if distance <= self.pass_max:
            return PASS
        return WARN if distance <= self.fail_above else FAIL

    @property
    def references_disagree(self) -> bool:
        return self.spread is not None and self.spread > REFS_DISAGREE

    def describe(self, name: str) -> str:
        """The sentence the character page shows."""
        head = f'same-face distance ≤ {self.pass_max:.2f} for {name}'
        tail = f'warn up to {self.fail_above:.2f}'
        if not self.references:
            return f'{head} (the drawn-art default: no reference with a face yet); {tail}'
        refs = f'from {self.references} reference{"s" if self.references != 1 else ""}'
        if self.source == 'references':
            return f'{head}, {refs} (they spread {self.spread:.2f}); {tail}'
        return f'{head}, {refs} (the drawn-art default; they agree closely); {tail}'

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: object) -> IdentityBand | None:
        """A stored band, or None when it is missing, damaged or from another calibration version."""
        if not isinstance(d, dict) or d.get('version') != CALIBRATION_VERSION:
            return None
        try:
            return cls(
                pass_max=float(d['pass_max']),
                fail_above=float(d['fail_above']),
                references=int(d.get('references', 0)),
                spread=None if d.get('spread') is None else float(d['spread']),
                source=str(d.get('source', 'prior')),
            )
        except (KeyError, TypeError, ValueError):
            return None


def reference_spread(encodings: Sequence[np.ndarray]) -> float | None:
    """Largest pairwise distance between a character's reference encodings (None with fewer than two)."""
    arr = np.asarray([np.asarray(e, dtype=np.float64).ravel() for e in encodings]).reshape(-1, 128)
    if len(arr) < 2:
        return None
    d = np.linalg.norm(arr[:, None] - arr[None], axis=-1)
    return float(d[np.triu_indices(len(arr), 1)].max())


def calibrate(encodings: Sequence[np.ndarray], thresholds: QAThresholds = QAThresholds()) -> IdentityBand:
    """The band for one character from its reference encodings and the project's stylised-art prior."""
    base, margin = thresholds.identity_max_distance, thresholds.identity_warn_margin
    spread = reference_spread(encodings)
    n = len(encodings)
    if spread is None or spread + SPREAD_MARGIN <= base or spread > REFS_DISAGREE:
        return IdentityBand(round(base, 4), round(base + margin, 4), n, spread and round(spread, 4), 'prior')
    widened = min(max(base, PASS_CAP), spread + SPREAD_MARGIN)
    return IdentityBand(round(widened, 4), round(widened + margin, 4), n, round(spread, 4), 'references')
