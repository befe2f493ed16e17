"""Character bible versions: every edit of bible, palette, outfits or references is a new numbered snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.assets import Asset
from models.continuity import CharacterVersion, CharacterVersionRead
from models.references import Character, CharacterReference
from services.crud import get_owned
from services.errors import NotFound

TRACKED = ('name', 'bible', 'palette', 'outfits', 'outfit_palettes', 'references')
REFERENCE_TAGS = ('angle', 'expression', 'outfit', 'shot', 'choice')


def snapshot(session: Session, row: Character) -> dict[str, Any]:
    """What a run depends on: the text and colours the prompt uses and the tagged images the provider is shown."""
    refs = session.exec(
        select(CharacterReference, Asset.sha256)
        .join(Asset, Asset.id == CharacterReference.asset_id)
        .where(CharacterReference.character_id == row.id)
        .order_by(col(CharacterReference.asset_id))
    ).all()
    return {
        'name': row.name,
        'bible': row.bible,
        'palette': list(row.palette),
        'outfits': list(row.outfits),
        'outfit_palettes': {k: list(v) for k, v in sorted((row.outfit_palettes or {}).items())},
        'references': [
            {'asset_id': r.asset_id, 'sha256': sha, **{t: getattr(r, t) for t in REFERENCE_TAGS}} for r, sha in refs
        ],
    }


def _latest(session: Session, character_id: str) -> CharacterVersion | None:
    return session.exec(
        select(CharacterVersion)
        .where(CharacterVersion.character_id == character_id)
        .order_by(col(CharacterVersion.version).desc())
    ).first()


def record(session: Session, project_id: str, character_id: str, reason: str = 'edited') -> int:
    """Add a version when the character differs from its latest one; returns the current version number."""
    row = get_owned(session, Character, project_id, character_id)
    session.flush()
    snap = snapshot(session, row)
    last = _latest(session, character_id)
    if last is not None and last.snapshot == snap:
        return last.version
    number = (last.version if last else 0) + 1
    session.add(
        CharacterVersion(project_id=project_id, character_id=character_id, version=number, snapshot=snap, reason=reason)
    )
    session.flush()
    return number


def current_versions(session: Session, character_ids: Iterable[str]) -> dict[str, int]:
    """The latest version number of each character (0 for one that predates versioning and was never edited)."""
    ids = list(character_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(CharacterVersion.character_id, func.max(CharacterVersion.version))
        .where(col(CharacterVersion.character_id).in_(ids))
        .group_by(CharacterVersion.character_id)
    ).all()
    found = dict(rows)
    return {i: int(found.get(i) or 0) for i in ids}


def ensure_current(session: Session, project_id: str, character_id: str) -> int:
    """The version a run is about to use; a character from before versioning gets its version 1 now."""
    return record(session, project_id, character_id, reason='first recorded by a run')


def list_versions(session: Session, project_id: str, character_id: str) -> list[CharacterVersionRead]:
    get_owned(session, Character, project_id, character_id)
    rows = session.exec(
        select(CharacterVersion)
        .where(CharacterVersion.character_id == character_id)
        .order_by(col(CharacterVersion.version).desc())
    ).all()
    return [CharacterVersionRead.model_validate(r, from_attributes=True) for r in rows]


def get_version(session: Session, project_id: str, character_id: str, version: int) -> CharacterVersionRead:
    get_owned(session, Character, project_id, character_id)
    row = session.exec(
        select(CharacterVersion).where(
            CharacterVersion.character_id == character_id, CharacterVersion.version == version
        )
    ).first()
    if row is None:
        raise NotFound(f'This character has no version {version}.')
    return CharacterVersionRead.model_validate(row, from_attributes=True)


@dataclass(frozen=True)
class Change:
    """One difference between two versions, in words a page or the CLI shows as is."""

    field: str
    before: str
    after: str


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ', '.join(str(v) for v in value) or '—'
    if isinstance(value, dict):
        return '; '.join(f'{k}: {_text(v)}' for k, v in value.items()) or '—'
    return str(value) if value not in (None, '') else '—'


def _tags(ref: dict[str, Any]) -> str:
    return ' · '.join(str(ref.get(t)) for t in REFERENCE_TAGS if ref.get(t) and ref.get(t) != 'auto') or 'untagged'


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Field by field; references by image: added, removed or retagged."""
    out = [
        Change(f, _text(old.get(f)), _text(new.get(f)))
        for f in TRACKED
        if f != 'references' and old.get(f) != new.get(f)
    ]
    before = {r['asset_id']: r for r in old.get('references', [])}
    after = {r['asset_id']: r for r in new.get('references', [])}
    for asset_id in sorted(before.keys() | after.keys()):
        a, b = before.get(asset_id), after.get(asset_id)
        short = f'reference {(b or a or {}).get("sha256", asset_id)[:10]}'
        if a is None:
            out.append(Change(short, '—', f'added ({_tags(b)})'))
        elif b is None:
            out.append(Change(short, _tags(a), 'removed'))
        elif _tags(a) != _tags(b):
            out.append(Change(short, _tags(a), _tags(b)))
    return out


def diff_versions(session: Session, project_id: str, character_id: str, old: int, new: int) -> list[Change]:
    """What changed from version `old` to version `new` (either order works)."""
    a = get_version(session, project_id, character_id, old)
    b = get_version(session, project_id, character_id, new)
    return diff_snapshots(a.snapshot, b.snapshot)
