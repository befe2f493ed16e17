"""J02/J03 in the UI: characters with uploads, reference sets, live prompt preview, the gallery, bootstrap paste."""

from __future__ import annotations

import asyncio
import json

from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from sqlmodel import func, select

from models.base import AssetKind, LinkRelation
from models.project import ProjectCreate, ProjectRead
from models.references import Character, CharacterCreate, SceneCreate
from pages import register_all
from services.projects import assets, projects
from services.references import characters, reference_sets, scenes
from tests.services.projects.test_assets import huge_png_header, png_bytes


async def settle() -> None:
    """Let the last refresh reach the client before teardown, which otherwise waits 2 s cancelling NiceGUI's loops."""
    await asyncio.sleep(0.2)


async def open_project(user: User, deps, slug: str = 'harbour') -> ProjectRead:
    with deps.sessions() as s:
        project = projects.create_project(s, ProjectCreate(slug=slug, name='Harbour'), data_dir=deps.data_dir)
    register_all(deps)
    await user.open(f'/projects/{slug}')  # makes it the current project
    return project


async def test_create_a_character_and_upload_twenty_images_at_once(user: User, deps) -> None:
    project = await open_project(user, deps)
    await user.open('/references/characters')
    await user.should_see(marker='no-characters')
    user.find('new-character').click()
    user.find('character-name').type('Hero')
    user.find('character-palette').type('#AABBCC, red')
    user.find('create-character').click()
    await user.should_see('Palette item 2: not a hex colour like #1a2b3c (got "red").')
    user.find('character-palette').clear().type('#aabbcc, #102030')
    user.find('create-character').click()
    await user.should_see('Character Hero created')
    await user.should_see(marker='character-card-hero')
    user.find('new-character').click()
    user.find('character-name').clear().type('hero')
    user.find('create-character').click()
    await user.should_see('"Hero" already exists in this project (names ignore case).')

    with deps.sessions() as s:
        hero = characters.find_character(s, project.id, 'Hero')
    await user.open(f'/references/characters/{hero.id}')
    await user.should_see(marker='no-references')
    user.find('upload-angle').elements.pop().value = 'profile'
    files = [SmallFileUpload(f'pose-{i:02}.png', 'image/png', png_bytes((i * 12, 40, 90), (24, 24))) for i in range(18)]
    files.insert(5, SmallFileUpload('notes.png', 'image/png', b'these are my notes, not a picture'))
    files.append(SmallFileUpload('huge.png', 'image/png', huge_png_header(20000, 20000)))
    await user.find('character-upload').elements.pop().handle_uploads(files)
    await user.should_see('18 accepted, 0 duplicate, 2 refused', retries=50)
    await user.should_see('notes.png: refused: not a readable PNG, JPEG or WebP image.')
    await user.should_see('huge.png: refused: the image (400 megapixels) is over the 40 megapixel limit.')
    assert len(user.find('upload-result').elements) == 20
    await user.should_see(marker='character-ref')
    assert len(user.find('character-ref').elements) == 18
    with deps.sessions() as s:
        refs = characters.list_references(s, project.id, hero.id)
        assert len(refs) == 18 and {r.angle for r in refs} == {'profile'}
        assert s.exec(select(func.count()).select_from(Character)).one() == 1


async def test_reference_set_reorders_with_up_and_down(user: User, deps) -> None:
    project = await open_project(user, deps)
    await user.open('/references/sets')
    user.find('new-set-name').type('Harbour mood')
    user.find('create-set').click()
    await user.should_see(marker='set-card-harbour-mood')
    for n, note in enumerate(('first note', 'second note'), start=1):
        user.find('set-note').clear().type(note)
        user.find('add-note').click()
        await user.should_see(marker=f'set-item-{n}')
    with user.scope('set-item-2'):
        user.find('item-up').click()
    await user.should_see(marker='set-item-2')
    with deps.sessions() as s:
        (ref,) = reference_sets.list_sets(s, project.id)
    assert [i.content_text for i in ref.items] == ['second note', 'first note']
    await settle()


async def test_prompt_preview_is_live_and_versions_are_kept(user: User, deps) -> None:
    project = await open_project(user, deps)
    with deps.sessions() as s:
        scene = SceneCreate.model_validate(
            {'name': 'Quay', 'description': 'Stone quay.', 'continuity': {'time': 'night'}}
        )
        scenes.create_scene(s, project.id, scene)
    await user.open('/references/prompts')
    text = user.find('template-text').elements.pop()
    text.value = 'Draw {scene} at {time}.'
    await user.should_see('Draw Quay: Stone quay at night.')
    text.value = 'Draw {sceen}.'
    await user.should_see('Template text: unknown placeholder {sceen}')
    text.value = 'Draw {scene} in ink.'
    user.find('save-template').click()
    await user.should_see('Saved style default version 1')
    text.value = 'Draw {scene} in watercolour.'
    user.find('save-template').click()
    await user.should_see('Saved style default version 2')
    await user.should_see(marker='load-version-2')
    assert len(user.find('template-version').elements) == 2
    user.find('load-version-1').click()
    assert text.value == 'Draw {scene} in ink.'
    await settle()


async def test_gallery_pages_and_filters(user: User, deps) -> None:
    project = await open_project(user, deps)
    with deps.sessions() as s:
        for i in range(50):
            kind = AssetKind.scene if i < 5 else AssetKind.reference
            deps.store.ingest(s, project, png_bytes((i, i, 200), (8, 8)), name=f'img{i}.png', kind=kind, tags=['t'])
    await user.open('/gallery')
    await user.should_see('Page 1 of 2 · 50 images')
    assert len(user.find('gallery-item').elements) == 48
    user.find('gallery-next').click()
    await user.should_see('Page 2 of 2 · 50 images')
    user.find('gallery-filter-kind').elements.pop().value = 'scene'
    await user.should_see('Page 1 of 1 · 5 images')
    user.find('gallery-filter-kind').elements.pop().value = None
    user.find('gallery-item').click()  # the newest image opens in the lightbox with its facts
    await user.should_see(marker='lightbox-caption')
    assert 'sha256 ' in user.find('lightbox-meta').elements.pop().text


async def test_lightbox_walks_lineage(user: User, deps) -> None:
    project = await open_project(user, deps)
    with deps.sessions() as s:
        parent, _ = deps.store.ingest(s, project, png_bytes((1, 1, 1)), name='source.png')
        child, _ = deps.store.ingest(s, project, png_bytes((2, 2, 2)), name='upscaled.png', kind=AssetKind.derived)
        assets.link_assets(s, project.id, parent.id, child.id, LinkRelation.derived_from)
    await user.open('/gallery')
    user.find('gallery-item').click()
    await user.should_see('upscaled.png')
    user.find('lineage-link').click()
    await user.should_see('1/1 · source.png · 64×48')


async def test_bootstrap_paste_preview_apply_and_again_unchanged(user: User, deps) -> None:
    project = await open_project(user, deps)
    await user.open('/bootstrap')
    user.find('bootstrap-build').click()
    assert 'Current project settings' in user.find('bootstrap-prompt').elements.pop().value
    answer = {'characters': [{'name': 'Grace', 'palette': ['#1c2233']}], 'scenes': [{'name': 'Quay'}]}
    pasted = 'Here is your setup:\n```json\n' + json.dumps(answer) + '\n```\nHave fun!'
    user.find('bootstrap-answer').elements.pop().value = pasted.replace('#1c2233', 'navy')
    user.find('bootstrap-preview').click()
    await user.should_see('characters[0].palette[0]: not a hex colour like #1a2b3c')
    user.find('bootstrap-answer').elements.pop().value = pasted
    user.find('bootstrap-preview').click()
    await user.should_see('  + Grace')
    await user.should_see('characters (merge): 1 to create, 0 to update, 0 to delete, 0 unchanged')
    with deps.sessions() as s:
        assert characters.list_characters(s, project.id) == []  # the dry run wrote nothing
    user.find('bootstrap-apply').click()
    await user.should_see('characters (merge): 1 created, 0 updated, 0 deleted, 0 unchanged')
    with deps.sessions() as s:
        assert [c.name for c in characters.list_characters(s, project.id)] == ['Grace']
    user.find('bootstrap-apply').click()
    await user.should_see('Nothing to change: all unchanged')
    await user.should_see('characters (merge): 0 created, 0 updated, 0 deleted, 1 unchanged')


async def test_character_page_shows_the_identity_band(user: User, deps) -> None:
    from tests.services.qa import hopper

    project = await open_project(user, deps)
    photo = hopper()
    files = [(f'grace-{i}.png', png_of(img)) for i, img in enumerate([photo, photo[:, ::-1], photo[40:560, 30:480]])]
    with deps.sessions() as s:
        grace = characters.create_character(s, project.id, CharacterCreate(name='Grace'))
        characters.upload_references(s, deps.store, project, grace.id, files)
        characters.upload_references(
            s, deps.store, project, grace.id, [('notes.png', png_bytes((200, 200, 200), (64, 64)))]
        )
    await user.open(f'/references/characters/{grace.id}')
    await user.should_see('for Grace, from 3 references', retries=50)
    band_text = user.find('identity-band').elements.pop().text
    assert band_text.startswith('same-face distance ≤ ') and 'warn up to' in band_text
    await user.should_see(marker='identity-band-noface')  # the fourth image shows no face
    with deps.sessions() as s:
        stored = s.get(Character, grace.id).identity_band
    assert stored['band']['references'] == 3 and stored['images'] == 4  # kept for the runs' QA
    await settle()


def png_of(img) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, 'PNG')
    return buf.getvalue()
