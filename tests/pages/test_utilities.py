"""U01 in the UI: drop an image, remove its background, download a transparent PNG; no project is touched."""

from __future__ import annotations

import io

from nicegui import ui
from nicegui.testing import User
from PIL import Image, ImageDraw
from sqlalchemy import func
from sqlmodel import select

from models.assets import Asset, AssetLink, QualityReport
from models.base import AssetKind
from models.project import Project, ProjectCreate
from pages import utilities
from services.projects import projects


def photo() -> bytes:
    im = Image.new('RGB', (260, 320), (214, 226, 238))
    d = ImageDraw.Draw(im)
    d.ellipse((85, 30, 175, 130), fill=(232, 190, 160), outline=(15, 15, 15), width=3)
    d.rectangle((70, 140, 190, 320), fill=(40, 90, 60))
    buf = io.BytesIO()
    im.save(buf, 'JPEG', quality=92)
    return buf.getvalue()


def snapshot(deps) -> tuple:
    with deps.sessions() as s:
        counts = tuple(
            s.exec(select(func.count()).select_from(m)).one() for m in (Project, Asset, AssetLink, QualityReport)
        )
    files = sorted(p.relative_to(deps.data_dir) for p in (deps.data_dir / 'projects').rglob('*'))
    return counts, files


async def upload(user: User, name: str, data: bytes, content_type: str) -> None:
    up = user.find('util-upload').elements.pop()
    await up.handle_uploads([ui.upload.SmallFileUpload(name, content_type, data)])


async def test_remove_background_and_download_without_touching_projects(user: User, deps) -> None:
    with deps.sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='keep', name='Keep'), data_dir=deps.data_dir)
        deps.store.ingest(s, p, photo(), name='ref.jpg', kind=AssetKind.reference)
    before = snapshot(deps)
    utilities.register(deps)
    await user.open('/utilities')
    await user.should_see('Utility lab')

    user.find('util-remove-bg').click()
    await user.should_see('Drop an image first.')
    await upload(user, 'notes.txt', b'not an image at all', 'text/plain')
    await user.should_see('notes.txt: not a readable PNG, JPEG or WebP image.')

    await upload(user, 'portrait.jpg', photo(), 'image/jpeg')
    await user.should_see(marker='util-preview')
    user.find('util-remove-bg').click()
    await user.should_see(marker='util-download', retries=100)
    await user.should_see('remove-bg: 260×320')
    user.find('util-download').click()
    response = await user.download.next()
    with Image.open(io.BytesIO(response.content)) as im:
        assert im.format == 'PNG' and im.mode == 'RGBA' and im.size == (260, 320)
        alpha = im.getchannel('A')
        assert alpha.getextrema() == (0, 255)
    served = await user.http_client.get(user.find('compare-after').elements.pop().source)
    assert served.status_code == 200 and served.content == response.content  # the preview is the same file
    assert (await user.http_client.get('/scratch/not-a-session/x.png')).status_code == 404

    user.find('util-use-result').click()
    user.find('util-upscale').click()
    await user.should_see('upscale: 520×640', retries=100)

    user.find('util-prompt').type('a lighthouse at dusk')
    user.find('util-generate').click()
    await user.should_see('generate: ', retries=100)

    scratch = list((deps.data_dir / 'scratch').rglob('*.png'))
    assert {p.name for p in scratch} >= {'portrait-input.png', 'portrait-remove-bg.png', 'portrait-upscale.png'}
    assert snapshot(deps) == before  # no project, asset, link or QA row and no file under projects/ changed
