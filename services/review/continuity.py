"""What review says about continuity: the bible version each job was made with (and whether it is older than the
character's current one), and each candidate's contradictions of the ledger with the entries they contradict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from models.runs import Job
from services.references import character_versions
from services.review.decisions import JobView


@dataclass(frozen=True)
class BibleNote:
    character: str
    used: int
    current: int

    @property
    def older(self) -> bool:
        return self.used < self.current

    @property
    def text(self) -> str:
        if self.older:
            return f"made with {self.character}'s bible v{self.used}; it is now v{self.current}"
        return f"{self.character}'s bible v{self.used} (current)"


@dataclass(frozen=True)
class LedgerFlag:
    """One contradiction: the check, what the ledger says (its entry) and what the pixels show."""

    item: str
    entry: str
    expected: str
    measured: str

    @property
    def text(self) -> str:
        return f'{self.item} contradicts the ledger — {self.entry}: expected {self.expected}, {self.measured}'


@dataclass
class JobContinuity:
    where: str = ''
    bible: list[BibleNote] = field(default_factory=list)
    flags: dict[str, list[LedgerFlag]] = field(default_factory=dict)  # candidate id → its contradictions
    unverified: dict[str, list[str]] = field(default_factory=dict)  # candidate id → checks pixels could not do


def job_continuity(session: Session, jobs: Sequence[JobView]) -> dict[str, JobContinuity]:
    """Per job of a run under review: bible versions used against current ones, and ledger flags per candidate."""
    rows = {j.id: j for j in session.exec(select(Job).where(col(Job.id).in_([j.id for j in jobs]))).all()}
    used = {j.id: (rows[j.id].params.get('character_versions') or {}) for j in jobs if j.id in rows}
    ids = {v['id'] for per in used.values() for v in per.values() if v.get('id')}
    current = character_versions.current_versions(session, ids)
    out: dict[str, JobContinuity] = {}
    for job in jobs:
        info = JobContinuity(
            where=((rows[job.id].params.get('continuity') or {}).get('where', '')) if job.id in rows else ''
        )
        for name, v in sorted(used.get(job.id, {}).items()):
            info.bible.append(BibleNote(name, int(v.get('version') or 0), current.get(v.get('id'), 0)))
        for cand in job.candidates:
            ledger = cand.metrics.get('ledger') or {}
            checks = (ledger.get('extra') or {}).get('checks', [])
            flags = [
                LedgerFlag(c['item'], c['entry'], c['expected'], c['measured'])
                for c in checks
                if c['verdict'] == 'warn'
            ]
            if flags:
                info.flags[cand.id] = flags
            unsure = [f'{c["item"]}: {c["reason"]}' for c in checks if c['verdict'] == 'unverified']
            if unsure:
                info.unverified[cand.id] = unsure
        out[job.id] = info
    return out
