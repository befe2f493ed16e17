"""The demo project: a real universe (three scenes, two style sheets, two characters with faces) on first start."""

from __future__ import annotations

import logging

from sqlmodel import col, select

from models.base import AssetKind, ProviderKind
from models.db import SessionFactory
from models.project import Project, ProjectCreate
from models.provider import ProviderAccount
from models.references import CharacterCreate, CharacterReferenceCreate, SceneCreate, StyleGuideCreate
from services.projects.assets import AssetStore
from services.projects.projects import create_project
from services.references import character_versions, characters, scenes, style_guides

log = logging.getLogger(__name__)

DEMO_SLUG = 'demo'


def ensure_local_account(sessions: SessionFactory) -> None:
    """The offline renderer is always there, so a fresh machine can generate with no keys."""
    with sessions() as s:
        exists = s.exec(
            select(ProviderAccount).where(
                ProviderAccount.kind == ProviderKind.local, col(ProviderAccount.project_id).is_(None)
            )
        ).first()
        if exists is None:
            s.add(
                ProviderAccount(
                    name='Offline renderer', kind=ProviderKind.local, model='kroma-local-v1', options={'concurrency': 4}
                )
            )


def ensure_demo(sessions: SessionFactory, store: AssetStore) -> bool:
    """Create the demo project once; returns True when it was created now."""
    from services.projects import demo_art  # NumPy and the drawing code load only when the demo is made

    ensure_local_account(sessions)
    with sessions() as s:
        if s.exec(select(Project).where(Project.slug == DEMO_SLUG)).first():
            return False
        project = create_project(
            s,
            ProjectCreate(
                slug=DEMO_SLUG,
                name='Demo: The Long Night',
                description='A sample universe to try every step with the offline renderer.',
            ),
            data_dir=store.data_dir,
        )
        guide = StyleGuideCreate(
            name='Sepia ink',
            rules='Bold black ink outlines, flat sepia tones, four tone steps, no gradients.',
            do_text='Keep line weight even; keep shadows flat.',
            dont_text='No photographic texture, no neon colours.',
            palette=['#18141c', '#5c4034', '#b0845c', '#ecd8b4'],
        )
        style_guides.create_style_guide(s, project.id, guide)
        for name, image in demo_art.style_images():
            store.ingest(s, project, demo_art.png(image), name=name, kind=AssetKind.style, tags=['style', 'demo'])
        for name, description, image, continuity in demo_art.scene_images():
            asset, _ = store.ingest(
                s, project, demo_art.png(image), name=f'{name}.png', kind=AssetKind.scene, tags=['scene']
            )
            scene = SceneCreate(
                name=name, description=description, chapter=1, continuity=continuity, reference_asset_id=asset.id
            )
            scenes.create_scene(s, project.id, scene)
        bibles = {
            'Grace': (
                'A naval officer in her late seventies: short curly grey hair, warm smile, dark uniform with gold braid.',
                ['#1c2233', '#c9a94a', '#d9c2b0'],
            ),
            'Eileen': (
                'A shuttle commander: short brown hair, calm eyes, orange flight suit with mission patches.',
                ['#d96a1e', '#2b3a55', '#e8c9a8'],
            ),
        }
        for name, refs in demo_art.character_refs().items():
            bible, palette = bibles[name]
            char = characters.create_character(
                s,
                project.id,
                CharacterCreate(name=name, bible=bible, palette=palette, outfits=[refs[0][2]]),
                version=False,
            )
            for angle, image, outfit in refs:
                asset, _ = store.ingest(
                    s,
                    project,
                    demo_art.png(image),
                    name=f'{name.lower()}-{angle}.png',
                    kind=AssetKind.character,
                    tags=['character'],
                )
                tags = CharacterReferenceCreate(asset_id=asset.id, angle=angle, outfit=outfit, shot='head')
                characters.add_reference(s, project.id, char.id, tags, version=False)
            character_versions.record(s, project.id, char.id, reason='created')
    log.info('Demo project created')
    return True
