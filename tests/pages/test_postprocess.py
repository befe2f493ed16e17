"""J07 in the UI: choose an approved image, save a colour profile, run the chain, compare, see lineage."""

from __future__ import annotations

import io

from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction
from PIL import Image, ImageDraw
from sqlmodel import select

from models.assets import Asset
from models.base import AssetKind, ReviewState
from models.project import ProjectCreate, ProjectUpdate
from pages import dashboard, media, postprocess
from services.projects import projects


def panel() -> bytes:
    im = Image.new('RGB', (320, 320), (228, 232, 236))
    d = ImageDraw.Draw(im)
    d.ellipse((110, 40, 210, 140), fill=(236, 196, 166), outline=(12, 12, 12), width=3)
    d.rectangle((90, 150, 230, 320), fill=(170, 40, 50))
    buf = io.BytesIO()
    im.save(buf, 'PNG')
    return buf.getvalue()


async def test_run_the_chain_on_a_chosen_image(user: User, deps) -> None:
    with deps.sessions() as s:
        project = projects.create_project(s, ProjectCreate(slug='pp', name='Harbour'), data_dir=deps.data_dir)
        source, _ = deps.store.ingest(
            s,
            project,
            panel(),
            name='harbour.png',
            kind=AssetKind.candidate,
            stage='style',
            status=ReviewState.approved,
        )
    for module in (media, dashboard, postprocess):
        module.register(deps)
    await user.open('/projects/pp')
    await user.open('/postprocess')
    await user.should_see('Post-process · Harbour')
    user.find('gallery-item').click()
    assert user.find('pp-assets').elements.pop().value == [source.id]

    text = user.find('profile-json').elements.pop()
    text.value = '{"name": "dusk-look", "saturation": 7}'
    user.find('save-profile').click()
    await user.should_see("Colour profile field 'saturation' must be between 0.0 and 3.0, got 7.")
    text.value = '{"name": "dusk-look", "saturation": 0.7, "r_gain": 1.05}'
    user.find('save-profile').click()
    await user.should_see('Colour profile dusk-look saved')
    assert user.find('pp-profile').elements.pop().value == 'dusk-look'

    user.find('pp-run').click()
    await user.should_see(marker='compare-slider', retries=200)
    await user.should_see('harbour.png: upscale → color')  # a scene panel keeps its background by default
    assert user.find(ui.linear_progress).elements.pop().value == 1.0
    with deps.sessions() as s:
        derived = s.exec(select(Asset).where(Asset.kind == AssetKind.derived)).all()
        assert len(derived) == 2 and {a.width for a in derived} == {640}
        assert s.get(Asset, source.id).status == ReviewState.approved

    user.find('compare-position').elements.pop().value = 20
    assert 'inset(0 0 0 20%)' in user.find('compare-after').elements.pop().style['clip-path']
    assert 'inset(0 80% 0 0)' in user.find('compare-before').elements.pop().style['clip-path']  # never under after
    newest = max(user.find('gallery-item').elements, key=lambda e: e.id)  # a result thumbnail, after the sources
    UserInteraction(user, {newest}, None).click()
    await user.should_see('from: derived_from')


async def test_a_ticked_cutout_and_an_archived_output_restored_in_one_click(user: User, deps) -> None:
    with deps.sessions() as s:
        project = projects.create_project(s, ProjectCreate(slug='pp', name='Harbour'), data_dir=deps.data_dir)
        projects.update_project(s, 'pp', ProjectUpdate(settings={'qa': {'min_width': 4096, 'min_height': 4096}}))
        source, _ = deps.store.ingest(
            s,
            project,
            panel(),
            name='harbour.png',
            kind=AssetKind.candidate,
            stage='style',
            status=ReviewState.approved,
        )
    for module in (media, dashboard, postprocess):
        module.register(deps)
    await user.open('/projects/pp')
    await user.open('/postprocess')
    await user.should_see('Nothing archived')
    user.find('gallery-item').click()
    user.find('pp-step-bg').elements.pop().value = True
    user.find('pp-step-upscale').elements.pop().value = False
    user.find('pp-step-color').elements.pop().value = False
    user.find('pp-run').click()
    await user.should_see('harbour.png: bg · QA fail · archived (see below)', retries=200)
    await user.should_see('Archived by QA: technical: 320×320 is under the 4096×4096 minimum')
    user.find('pp-restore').click()
    await user.should_see('restored: it is offered on Pages again')
    await user.should_see('Nothing archived')
    with deps.sessions() as s:
        (out,) = s.exec(select(Asset).where(Asset.kind == AssetKind.derived)).all()
        assert out.status == ReviewState.generated and out.meta['postprocess']['source_id'] == source.id
