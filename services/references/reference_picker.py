"""The right references for each shot: score a character's tagged images against the framing and the ledger's
outfit, keep the artist's pins and exclusions, and fill the provider's input cap most relevant first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_PER_CHARACTER = 4  # providers without an input cap still get a focused set, best first
ANGLE_FIT = {  # how well an angle serves a framing; below 1 it does not fit the shot
    'close-up': {'front': 3.0, 'three-quarter': 2.5, 'profile': 0.5, 'back': -5.0},
    'medium': {'front': 3.0, 'three-quarter': 3.0, 'profile': 1.5, 'back': -1.0},
    'wide': {'front': 2.0, 'three-quarter': 2.0, 'profile': 2.0, 'back': 1.0},
}
SHOT_FIT = {  # below 0 it does not fit the shot
    'close-up': {'head': 2.0, 'full-body': -1.0, '': 0.5},
    'medium': {'head': 1.0, 'full-body': 1.0, '': 0.5},
    'wide': {'head': 0.0, 'full-body': 2.0, '': 0.5},
}
WANTS = {
    'close-up': 'front and three-quarter head shots',
    'medium': 'front and three-quarter views',
    'wide': 'full-body views from any side',
}


@dataclass(frozen=True)
class RefTags:
    """One reference as the picker sees it."""

    asset_id: str
    character: str
    angle: str
    outfit: str = ''
    shot: str = ''
    expression: str = ''
    choice: str = 'auto'


@dataclass(frozen=True)
class Pick:
    """The planner's verdict on one reference, with the reason the plan shows."""

    asset_id: str
    character: str
    angle: str
    outfit: str
    shot: str
    score: float
    chosen: bool
    reason: str


def _outfit_fit(ref: RefTags, outfit: str | None, have_outfit: bool) -> tuple[float, str, bool]:
    """(score, words, fits): a reference in another outfit is dropped when one in the current outfit exists."""
    if not outfit:
        return 0.0, '', True
    if ref.outfit.lower() == outfit.lower():
        return 3.0, f'current outfit "{outfit}"', True
    if not ref.outfit:
        return 1.0, 'outfit not tagged', True
    if have_outfit:
        return -3.0, f'outfit "{ref.outfit}", not the current "{outfit}"', False
    return -1.0, f'outfit "{ref.outfit}" (no reference shows the current "{outfit}"; the prompt names it)', True


def score(ref: RefTags, framing: str, outfit: str | None, have_outfit: bool) -> tuple[float, str, bool]:
    """Relevance of one reference to the shot: angle and shot for the framing, then the outfit."""
    angle = ANGLE_FIT[framing].get(ref.angle, 0.0)
    shot = SHOT_FIT[framing].get(ref.shot, 0.0)
    outfit_score, outfit_words, outfit_ok = _outfit_fit(ref, outfit, have_outfit)
    words = [f'{ref.angle}', ref.shot or 'shot not tagged']
    if outfit_words:
        words.append(outfit_words)
    why = ', '.join(words)
    if angle < 1:
        why += f' — a {ref.angle} view does not fit a {framing}'
    elif shot < 0:
        why += f' — a {ref.shot} reference does not fit a {framing}'
    neutral = 0.25 if ref.expression.lower() in ('', 'neutral') else 0.0  # a neutral face serves any panel best
    return angle + shot + outfit_score + neutral, why, angle >= 1 and shot >= 0 and outfit_ok


def pick_references(
    refs: Sequence[RefTags], *, framing: str | None, outfits: dict[str, str | None], budget: int | None
) -> list[Pick]:
    """Every reference with its verdict; chosen ones first, most relevant first, at most `budget` in all.

    Pinned references are always chosen (they count against the budget first); excluded ones never. Within the
    budget each character gets its best reference before any character gets a second one."""
    framing = framing or 'medium'
    wants = WANTS[framing]
    rated: dict[str, list[tuple[float, RefTags, str, bool]]] = {}
    order = {r.asset_id: i for i, r in enumerate(refs)}  # ties keep the given order (oldest reference first)
    for ref in refs:
        outfit = outfits.get(ref.character)
        have_outfit = bool(outfit) and any(
            r.character == ref.character and r.outfit.lower() == (outfit or '').lower() and r.choice != 'exclude'
            for r in refs
        )
        value, why, fits = score(ref, framing, outfit, have_outfit)
        rated.setdefault(ref.character, []).append((value, ref, why, fits))
    per_char = {
        c: sorted(items, key=lambda t: (t[1].choice != 'pin', -t[0], order[t[1].asset_id]))
        for c, items in rated.items()
    }
    limit = budget if budget is not None else DEFAULT_PER_CHARACTER * len(per_char)
    cap_each = DEFAULT_PER_CHARACTER if budget is None else None
    chosen: list[tuple[float, RefTags, str]] = []
    taken: set[str] = set()
    for value, ref, why in ((v, r, w) for items in per_char.values() for v, r, w, _ in items if r.choice == 'pin'):
        if len(chosen) < limit:
            chosen.append((value, ref, f'pinned by the artist; {why}'))
            taken.add(ref.asset_id)
    queues = {c: [t for t in items if t[1].choice == 'auto' and t[3]] for c, items in per_char.items()}
    for c, items in per_char.items():  # nothing fits the shot: the best one not excluded is better than none
        if not queues[c] and not any(t[1].choice == 'pin' for t in items):
            best = [(v, r, f'{w}; nothing fits better', True) for v, r, w, _ in items if r.choice == 'auto'][:1]
            queues[c] = best
    rank = 0
    while len(chosen) < limit and any(len(q) > rank for q in queues.values()):
        for items in queues.values():
            if rank < len(items) and len(chosen) < limit:
                value, ref, why, _ = items[rank]
                count = sum(1 for _, r, _ in chosen if r.character == ref.character)
                if cap_each is None or count < cap_each:
                    chosen.append((value, ref, f'{why} ({framing} wants {wants})'))
                    taken.add(ref.asset_id)
        rank += 1
    out = [Pick(r.asset_id, r.character, r.angle, r.outfit, r.shot, round(v, 2), True, w) for v, r, w in chosen]
    for items in per_char.values():
        for value, ref, why, fits in items:
            if ref.asset_id in taken:
                continue
            if ref.choice == 'exclude':
                reason = 'excluded by the artist'
            elif ref.choice == 'pin':
                reason = f'pinned, but the provider takes only {limit} reference image(s)'
            elif not fits:
                reason = f'left out: {why}'
            elif cap_each is not None:
                reason = f'left out: at most {cap_each} references per character are sent; {why}'
            else:
                reason = f'left out: the provider takes only {limit} reference image(s) here; {why}'
            out.append(
                Pick(ref.asset_id, ref.character, ref.angle, ref.outfit, ref.shot, round(value, 2), False, reason)
            )
    return out
