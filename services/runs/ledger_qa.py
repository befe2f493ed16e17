"""The ledger check on a job's candidates: what the job was planned to hold (its params), the outfit colours from
the bible or measured on references tagged with the outfit, and the resulting `ledger` metric on each report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.assets import Asset
from models.base import ReviewState
from models.project import Project
from models.references import Character, CharacterReference
from models.runs import Job, Run
from services.errors import KromaError
from services.projects.assets import AssetStore
from services.qa.ledger import Expected, LedgerExpectation, OutfitExpected, dominant_colours, face_boxes, ledger_check
from services.qa.ledger import outfit_region as region_below
from services.qa.report import QAReport
from services.qa.thresholds import as_rgb

log = logging.getLogger(__name__)

STAGE_CHECKS = {'time': ('time',), 'weather': ('time', 'weather'), 'character': ('time', 'weather', 'outfit')}


@lru_cache(maxsize=256)
def reference_outfit_colours(path: str, sha256: str) -> tuple[str, ...]:
    """The main colours below the largest face of a reference image, cached by content hash."""
    rgb = as_rgb(Path(path))
    boxes = face_boxes(rgb)
    if not boxes:
        return ()
    region = region_below(rgb, max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])))
    return tuple(dominant_colours(region)) if region is not None else ()


def outfit_palette(
    session: Session, store: AssetStore, project: Project, character: Character, outfit: str
) -> tuple[tuple[str, ...], str]:
    """The outfit's colours as the bible states them, else as the references tagged with the outfit show them."""
    stated = {k.lower(): v for k, v in (character.outfit_palettes or {}).items()}
    if stated.get(outfit.lower()):
        return tuple(stated[outfit.lower()]), 'outfit colours in the bible'
    refs = session.exec(
        select(Asset)
        .join(CharacterReference, CharacterReference.asset_id == Asset.id)
        .where(CharacterReference.character_id == character.id, func.lower(CharacterReference.outfit) == outfit.lower())
    ).all()
    colours: list[str] = []
    for asset in refs[:4]:
        try:
            colours += [c for c in reference_outfit_colours(str(store.path_of(project, asset)), asset.sha256)]
        except KromaError as e:  # an unreadable reference leaves this outfit unverified, never breaks QA
            log.warning('outfit colours of reference %s: %s', asset.id, e.user_message)
    unique = tuple(dict.fromkeys(colours))
    return unique, (f'measured on {len(refs[:4])} reference(s) tagged "{outfit}"' if unique else '')


def expectation(session: Session, store: AssetStore, project: Project, job: Job, stage: str) -> LedgerExpectation:
    """What the job's candidates must show, from the ledger state recorded when the job was planned."""
    cont: dict[str, Any] = job.params.get('continuity') or {}
    checks = STAGE_CHECKS.get(stage, ())
    fields = cont.get('fields', {})

    def expected(name: str) -> Expected | None:
        entry = fields.get(name)
        if name not in checks or not entry or not isinstance(entry.get('value'), str):
            return None
        return Expected(entry['value'], (entry.get('source') or {}).get('label', 'the ledger'))

    outfits = []
    if 'outfit' in checks:
        placed = {n.lower() for n in job.params.get('characters', [])}
        rows = session.exec(select(Character).where(Character.project_id == project.id)).all()
        by_name = {c.name.lower(): c for c in rows}
        for name, vals in cont.get('characters', {}).items():
            entry = vals.get('outfit')
            char = by_name.get(name.lower())
            if name.lower() not in placed or not entry or char is None:
                continue
            palette, source = outfit_palette(session, store, project, char, entry['value'])
            label = (entry.get('source') or {}).get('label', 'the ledger')
            outfits.append(OutfitExpected(name, entry['value'], label, palette, source))
    return LedgerExpectation(expected('time'), expected('weather'), tuple(outfits))


def ungraded_scene(session: Session, store: AssetStore, project: Project, job: Job, stage: str) -> Path | None:
    """The scene before any time grading, so the time check measures the change: the time stage's own input, or
    the scene's approved style-stage image for later stages (None: the check then reads absolute values)."""
    if stage == 'time':
        scene = next((i for i in job.inputs if i.get('role') == 'scene'), None)
        return store.root(project) / scene['path'] if scene else None
    if not job.scene_id:
        return None
    styled = session.exec(
        select(Asset)
        .where(
            Asset.project_id == project.id,
            Asset.scene_id == job.scene_id,
            Asset.stage == 'style',
            Asset.status == ReviewState.approved,
        )
        .order_by(col(Asset.created_at).desc())
    ).first()
    return store.path_of(project, styled) if styled else None


def with_ledger(
    session: Session, store: AssetStore, job: Job, images: Sequence[Path], reports: Sequence[QAReport]
) -> list[QAReport]:
    """Add the `ledger` metric to each report when the job's ledger state holds something its stage can show."""
    project = session.get(Project, job.project_id)
    run = session.get(Run, job.run_id)
    stage = run.stage.value if run else ''
    want = expectation(session, store, project, job, stage)
    if want.empty:
        return list(reports)
    base = ungraded_scene(session, store, project, job, stage) if want.time else None
    out = []
    for image, report in zip(images, reports, strict=True):
        ident = report.metrics.get('identity')
        per = (ident.extra.get('characters') or {}) if ident else {}
        faces = {name: p['box'] for name, p in per.items() if p.get('box')}
        metric = ledger_check(image, want, faces=faces, base=base)
        out.append(QAReport.from_metrics([*report.metrics.values(), metric]))
    return out
