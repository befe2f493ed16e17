"""Order candidates for review: hard failures last, then by warnings, then by weighted score."""

from __future__ import annotations

from collections.abc import Sequence

from services.qa.report import QAReport


def rank_key(report: QAReport, index: int) -> tuple[int, int, float, int]:
    """Fewer failing metrics, then fewer warning/unverified metrics, then higher score, then earlier candidate."""
    return len(report.failures), len(report.warnings), -report.score, index


def rank(reports: Sequence[QAReport]) -> list[int]:
    """Indexes of reports, best first; the first is the pre-selected candidate (the artist still decides)."""
    return sorted(range(len(reports)), key=lambda i: rank_key(reports[i], i))


def best(reports: Sequence[QAReport]) -> int | None:
    """Index to pre-select, or None when every candidate failed (nothing should be pre-selected then)."""
    order = rank(reports)
    return next((i for i in order if reports[i].verdict != 'fail'), None)
