"""Each character's identity band, calibrated on its own reference images and kept on the character row.

The band is stored with a key (the references' content hashes, the project's identity settings and the encoder
version), so a run's QA reads it without measuring again, and any change of references or settings recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlmodel import Session, select

from models.assets import Asset
from models.project import Project, ProjectRead
from models.references import Character, CharacterReference
from services.errors import NotFound
from services.projects.assets import AssetStore
from services.qa.calibration import IdentityBand, calibrate
from services.qa.face_models import models_available
from services.qa.faces import ENCODER_VERSION, face_encodings
from services.qa.thresholds import QAThresholds


@lru_cache(maxsize=256)
def reference_encodings(path: str, sha256: str) -> tuple[np.ndarray, ...]:
    """Face encodings of a reference image, cached by content hash: references are encoded once per process."""
    return tuple(face_encodings(Path(path)))


def _thresholds(project: Project | ProjectRead) -> QAThresholds:
    return QAThresholds.from_dict((project.settings or {}).get('qa'))


def _refs(session: Session, character: Character) -> list[tuple[CharacterReference, Asset]]:
    rows = session.exec(
        select(CharacterReference, Asset)
        .join(Asset, Asset.id == CharacterReference.asset_id)
        .where(CharacterReference.character_id == character.id)
    ).all()
    return sorted(rows, key=lambda r: r[1].sha256)


def _key(assets: list[Asset], t: QAThresholds) -> str:
    basis = [ENCODER_VERSION, t.identity_max_distance, t.identity_warn_margin, [a.sha256 for a in assets]]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:24]


def band_for(
    session: Session, store: AssetStore, project: Project | ProjectRead, character: Character, *, save: bool = False
) -> IdentityBand:
    """The character's band: the stored one while it is current, else measured (and stored when `save`)."""
    t = _thresholds(project)
    rows = _refs(session, character)
    key = _key([a for _, a in rows], t)
    stored = character.identity_band or {}
    if stored.get('key') == key and (band := IdentityBand.from_dict(stored.get('band'))):
        return band
    encodings: list[np.ndarray] = []
    if models_available():
        for _, asset in rows:
            found = reference_encodings(str(store.path_of(project, asset)), asset.sha256)
            encodings += list(found[:1])  # the largest face is the character
    band = calibrate(encodings, t)
    if save:
        character.identity_band = {'key': key, 'band': band.to_dict(), 'images': len(rows)}
        session.add(character)
        session.flush()
    return band


def bands_by_name(
    session: Session, store: AssetStore, project: Project | ProjectRead, names: list[str]
) -> dict[str, IdentityBand]:
    """Bands of the named characters of a project (names without a character are left out)."""
    rows = session.exec(select(Character).where(Character.project_id == project.id)).all()
    by_name = {c.name: c for c in rows}
    return {n: band_for(session, store, project, by_name[n]) for n in names if n in by_name}


def character_band(
    session: Session, store: AssetStore, project: Project | ProjectRead, character_id: str
) -> tuple[IdentityBand, int]:
    """(band, reference images) for the character page; the band is stored so runs read it as is."""
    character = session.get(Character, character_id)
    if character is None or character.project_id != project.id:
        raise NotFound('No such character in this project.', code='character_missing')
    band = band_for(session, store, project, character, save=True)
    return band, len(_refs(session, character))


def project_faces(session: Session, store: AssetStore, project: Project | ProjectRead) -> dict[str, list[np.ndarray]]:
    """Every character's reference encodings (largest face per image), for telling characters apart in a panel."""
    if not models_available():
        return {}
    out: dict[str, list[np.ndarray]] = {}
    for character in session.exec(select(Character).where(Character.project_id == project.id)).all():
        encs = [reference_encodings(str(store.path_of(project, a)), a.sha256)[:1] for _, a in _refs(session, character)]
        out[character.name] = [e for found in encs for e in found]
    return out
