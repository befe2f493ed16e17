"""Characters (J02): bible text, palette, outfits and tagged reference images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import AssetKind
from models.references import (
    ANGLES,
    Character,
    CharacterCreate,
    CharacterRead,
    CharacterReference,
    CharacterReferenceCreate,
    CharacterReferenceTags,
    CharacterUpdate,
)
from services.crud import apply_patch, changes, ensure_unique_name, get_owned
from services.errors import NotFound
from services.references import character_versions as versions
from services.security import audit

if TYPE_CHECKING:
    from models.project import ProjectRead
    from services.projects.assets import AssetStore, UploadResult


def _read(session: Session, row: Character) -> CharacterRead:
    refs = session.exec(select(CharacterReference.asset_id).where(CharacterReference.character_id == row.id)).all()
    version = versions.current_versions(session, [row.id])[row.id]
    return CharacterRead.model_validate({**row.model_dump(), 'reference_asset_ids': list(refs), 'version': version})


def create_character(
    session: Session, project_id: str, data: CharacterCreate, *, version: bool = True
) -> CharacterRead:
    """A new character at bible version 1 (version=False: the caller records it once its references are in)."""
    name = data.name
    ensure_unique_name(session, Character, project_id, name)
    row = Character(
        project_id=project_id,
        name=name,
        bible=data.bible,
        palette=data.palette,
        outfits=data.outfits,
        outfit_palettes=data.outfit_palettes,
    )
    session.add(row)
    session.flush()
    if version:
        versions.record(session, project_id, row.id, reason='created')
    audit.record(session, project_id=project_id, action='character.create', payload={'name': name})
    return _read(session, row)


def update_character(session: Session, project_id: str, character_id: str, data: CharacterUpdate) -> CharacterRead:
    row = get_owned(session, Character, project_id, character_id)
    patch = changes(data)
    if 'name' in patch:
        ensure_unique_name(session, Character, project_id, patch['name'], exclude_id=row.id)
    apply_patch(row, patch)
    session.add(row)
    if patch:
        versions.record(session, project_id, row.id, reason='edited ' + ', '.join(sorted(patch)))
    audit.record(session, project_id=project_id, action='character.update', payload={'id': row.id, **patch})
    return _read(session, row)


def delete_character(session: Session, project_id: str, character_id: str) -> None:
    row = get_owned(session, Character, project_id, character_id)
    session.delete(row)
    audit.record(session, project_id=project_id, action='character.delete', payload={'name': row.name})


def list_characters(session: Session, project_id: str) -> list[CharacterRead]:
    rows = session.exec(select(Character).where(Character.project_id == project_id).order_by(col(Character.name))).all()
    return [_read(session, r) for r in rows]


def get_character(session: Session, project_id: str, character_id: str) -> CharacterRead:
    return _read(session, get_owned(session, Character, project_id, character_id))


def add_reference(
    session: Session, project_id: str, character_id: str, data: CharacterReferenceCreate, *, version: bool = True
) -> CharacterReference:
    """Attach an image (or retag one already attached); a change of the character's images is a new bible version."""
    get_owned(session, Character, project_id, character_id)
    asset = get_owned(session, Asset, project_id, data.asset_id)
    existing = session.exec(
        select(CharacterReference).where(
            CharacterReference.character_id == character_id, CharacterReference.asset_id == asset.id
        )
    ).first()
    ref = existing or CharacterReference(project_id=project_id, character_id=character_id, asset_id=asset.id)
    ref.angle, ref.expression, ref.outfit = data.angle, data.expression, data.outfit
    ref.shot, ref.choice = data.shot, data.choice
    asset.character_id = character_id
    session.add_all([ref, asset])
    session.flush()
    if version:
        versions.record(
            session, project_id, character_id, reason='reference retagged' if existing else 'reference added'
        )
    return ref


def pick_reference(session: Session, project_id: str, character_id: str, asset_id: str, choice: str) -> None:
    """Pin a reference (always sent, first), exclude it (never sent) or hand it back to the planner (auto)."""
    for ref in references(session, project_id, character_id):
        if ref.asset_id == asset_id:
            ref.choice = choice
            session.add(ref)
            versions.record(session, project_id, character_id, reason=f'reference {choice}')
            audit.record(
                session,
                project_id=project_id,
                action='character.pick_reference',
                payload={'character_id': character_id, 'asset_id': asset_id, 'choice': choice},
            )
            return
    raise NotFound('That image is not a reference of this character.')


def references(session: Session, project_id: str, character_id: str) -> list[CharacterReference]:
    get_owned(session, Character, project_id, character_id)
    return list(session.exec(select(CharacterReference).where(CharacterReference.character_id == character_id)).all())


@dataclass(frozen=True)
class CharacterRef:
    """A character's reference image with its tags, as pages and the import show it."""

    asset_id: str
    angle: str
    expression: str
    outfit: str
    shot: str = ''
    choice: str = 'auto'


def find_character(session: Session, project_id: str, name: str) -> CharacterRead:
    """Look a character up by name, ignoring case (names are unique that way)."""
    row = session.exec(
        select(Character).where(Character.project_id == project_id, func.lower(Character.name) == name.strip().lower())
    ).first()
    if row is None:
        raise NotFound(f'No character named "{name}" in this project.')
    return _read(session, row)


def list_references(session: Session, project_id: str, character_id: str) -> list[CharacterRef]:
    return [
        CharacterRef(r.asset_id, r.angle, r.expression, r.outfit, r.shot, r.choice)
        for r in sorted(references(session, project_id, character_id), key=lambda r: (ANGLES.index(r.angle), r.id))
        if r.angle in ANGLES
    ]


def remove_reference(session: Session, project_id: str, character_id: str, asset_id: str) -> None:
    """Unlink an image from the character; the image itself stays in the project."""
    for ref in references(session, project_id, character_id):
        if ref.asset_id == asset_id:
            session.delete(ref)
            versions.record(session, project_id, character_id, reason='reference removed')
            audit.record(
                session,
                project_id=project_id,
                action='character.remove_reference',
                payload={'character_id': character_id, 'asset_id': asset_id},
            )
            return
    raise NotFound('That image is not a reference of this character.')


def upload_references(
    session: Session,
    store: AssetStore,
    project: ProjectRead,
    character_id: str,
    files: Sequence[tuple[str, bytes]],
    tags: CharacterReferenceTags | None = None,
) -> list[UploadResult]:
    """Upload straight onto a character: every accepted (or already known) image becomes one of its references."""
    get_owned(session, Character, project.id, character_id)
    tags = tags or CharacterReferenceTags()
    results = store.upload_many(
        session, project, files, kind=AssetKind.character, character_id=character_id, tags=['character']
    )
    for r in results:
        if r.asset is not None:
            ref = CharacterReferenceCreate(asset_id=r.asset.id, **tags.model_dump())
            add_reference(session, project.id, character_id, ref, version=False)
    versions.record(session, project.id, character_id, reason='references uploaded')
    return results
