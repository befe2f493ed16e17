"""What the continuity ledger adds to a planned job: prompt values, the references that fit the shot, and the
character bible versions the run uses (recorded in the job's params)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlmodel import Session, col, select

from models.assets import Asset
from models.references import Character, CharacterReference
from services.references import character_versions
from services.references.ledger_state import DerivedState
from services.references.reference_picker import Pick, RefTags, pick_references


def pick_character_references(
    session: Session, chars: Sequence[Character], state: DerivedState | None, budget: int | None
) -> tuple[list[Pick], list[tuple[Asset, str]]]:
    """Every reference of the characters with the planner's verdict, and the chosen images (best first)."""
    if not chars:
        return [], []
    names = {c.id: c.name for c in chars}
    rows = session.exec(
        select(CharacterReference)
        .where(col(CharacterReference.character_id).in_(list(names)))
        .order_by(col(CharacterReference.created_at), col(CharacterReference.id))
    ).all()
    refs = [RefTags(r.asset_id, names[r.character_id], r.angle, r.outfit, r.shot, r.expression, r.choice) for r in rows]
    outfits = {c.name: (state.outfit(c.name) if state else None) or None for c in chars}
    picks = pick_references(refs, framing=state.framing if state else None, outfits=outfits, budget=budget)
    chosen = []
    for p in picks:
        asset = session.get(Asset, p.asset_id) if p.chosen else None
        if asset is not None:
            chosen.append((asset, p.character))
    return picks, chosen


def job_extras(
    session: Session, state: DerivedState | None, chars: Sequence[Character], picks: Sequence[Pick], cap_why: str
) -> dict[str, Any]:
    """What a job records beside its prompt: the ledger state it was planned with, bible versions, picks."""
    versions = character_versions.current_versions(session, [c.id for c in chars])
    extras: dict[str, Any] = {}
    if state is not None:
        extras['continuity'] = state.to_dict()
    if chars:
        extras['character_versions'] = {c.name: {'id': c.id, 'version': versions[c.id]} for c in chars}
        extras['references'] = {'cap': cap_why, 'picks': [asdict(p) for p in picks]}
    return extras
