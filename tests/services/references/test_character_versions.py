"""Character bibles are versioned: each edit of bible, palette, outfits or references is the next snapshot."""

from __future__ import annotations

import pytest

from models.base import AssetKind
from models.project import ProjectCreate, ProjectRead
from models.references import CharacterCreate, CharacterReferenceCreate, CharacterReferenceTags, CharacterUpdate
from services.errors import NotFound, parse
from services.projects import projects
from services.references import character_versions as versions
from services.references import characters
from tests.services.projects.test_assets import png_bytes


@pytest.fixture
def project(sessions, data_dir) -> ProjectRead:
    with sessions() as s:
        return projects.create_project(s, ProjectCreate(slug='bibles', name='Bibles'), data_dir=data_dir)


def test_every_edit_is_a_version_and_a_diff_says_what_changed(sessions, store, project) -> None:
    with sessions() as s:
        hero = characters.create_character(s, project.id, CharacterCreate(name='Hero', bible='Tall.', outfits=['coat']))
        assert hero.version == 1
        data = parse(CharacterUpdate, bible='Tall, scar on the left cheek.', outfit_palettes={'coat': ['#AA2211']})
        assert characters.update_character(s, project.id, hero.id, data).version == 2
        assert characters.update_character(s, project.id, hero.id, parse(CharacterUpdate)).version == 2  # no change
        results = characters.upload_references(
            s,
            store,
            project,
            hero.id,
            [('a.png', png_bytes((200, 10, 10))), ('b.png', png_bytes((10, 200, 10)))],
            CharacterReferenceTags(angle='three-quarter', outfit='coat', shot='head'),
        )
        assert characters.get_character(s, project.id, hero.id).version == 3  # one upload of two images: one version
        first = results[0].asset.id
        characters.add_reference(s, project.id, hero.id, CharacterReferenceCreate(asset_id=first, angle='side'))
        characters.pick_reference(s, project.id, hero.id, results[1].asset.id, 'exclude')
        characters.remove_reference(s, project.id, hero.id, first)
        listed = versions.list_versions(s, project.id, hero.id)
        assert [v.version for v in listed] == [6, 5, 4, 3, 2, 1]
        assert [v.reason for v in listed][:3] == ['reference removed', 'reference exclude', 'reference retagged']
        bible = versions.diff_versions(s, project.id, hero.id, 1, 2)
        refs = versions.diff_versions(s, project.id, hero.id, 3, 4)
        with pytest.raises(NotFound, match='no version 9'):
            versions.diff_versions(s, project.id, hero.id, 1, 9)
    assert [(c.field, c.before, c.after) for c in bible] == [
        ('bible', 'Tall.', 'Tall, scar on the left cheek.'),
        ('outfit_palettes', '—', 'coat: #aa2211'),
    ]
    (retag,) = refs
    assert retag.before == 'three-quarter · coat · head' and retag.after == 'profile'


def test_deleting_a_character_takes_its_versions(sessions, store, project) -> None:
    with sessions() as s:
        hero = characters.create_character(s, project.id, CharacterCreate(name='Hero'))
        asset, _ = store.ingest(s, project, png_bytes((1, 2, 3)), name='x.png', kind=AssetKind.character)
        characters.add_reference(s, project.id, hero.id, CharacterReferenceCreate(asset_id=asset.id))
        assert versions.current_versions(s, [hero.id]) == {hero.id: 2}
        characters.delete_character(s, project.id, hero.id)
    with sessions() as s:
        assert versions.current_versions(s, [hero.id]) == {hero.id: 0}
