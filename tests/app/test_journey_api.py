"""The whole journey through /api alone: an empty data dir to a verified CBZ, on a real studio with its run workers.

Project, references, style run, approve-best, time run, approve-best, auto-layout, a balloon, export, download, verify:
nothing but HTTP with a bearer token (the images are made here, as a client would bring its own).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.exports.packages import verify_package
from services.projects import demo_art
from tests.live_studio import Studio, free_port, start_studio, stop_studio

pytestmark = pytest.mark.slow
P = '/api/projects/saga'


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    env = {'KROMA_DEMO': 'false', 'KROMA_SCHEDULER_ENABLED': 'true'}
    studio = start_studio(tmp_path / 'home', free_port(), env=env)
    yield studio
    stop_studio(studio)


def png(image) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    image.save(buf, 'PNG')
    return buf.getvalue()


def ok(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status and r.json()['ok'] is True, r.text
    return r.json()


def run_and_wait(api: httpx.Client, body: dict) -> str:
    """Start a run; the studio's workers generate it while we poll its state."""
    run_id = ok(api.post(P + '/runs', json={'mode': 'run', 'candidates': 1, **body}), 201)['run_id']
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = ok(api.get(f'{P}/runs/{run_id}'))['run']
        if run['status'] in ('done', 'failed', 'canceled'):
            assert run['status'] == 'done' and run['done'] == run['total'], run
            return run_id
        time.sleep(0.3)
    pytest.fail(f'run {run_id} did not finish in 30 s')


def test_empty_data_dir_to_a_verified_cbz_through_the_api(studio: Studio, tmp_path: Path) -> None:
    token = ok(httpx.post(studio.url + '/auth/token', json={'label': 'journey'}), 201)['auth_token']['token']
    api = httpx.Client(base_url=studio.url, headers={'Authorization': f'Bearer {token}'}, timeout=60)
    ok(api.post('/api/projects', json={'slug': 'saga', 'name': 'Saga'}), 201)
    (style_name, style), *_ = demo_art.style_images()
    ok(api.post(P + '/assets', files=[('files', (style_name, png(style), 'image/png'))], data={'kind': 'style'}), 201)
    scene_ids = []
    for name, description, image, _ in demo_art.scene_images()[:2]:
        files = [('files', (f'{name}.png', png(image), 'image/png'))]
        (result,) = ok(api.post(P + '/assets', files=files, data={'kind': 'scene'}), 201)['results']
        body = {'name': name, 'description': description, 'chapter': 1, 'reference_asset_id': result['asset']['id']}
        scene_ids.append(ok(api.post(P + '/scenes', json=body), 201)['scene']['id'])

    run_and_wait(api, {'stage': 'style'})
    best = ok(api.post(P + '/review/approve-best', json={'stage': 'style'}))
    assert [p['scene_id'] for p in best['approved']] == scene_ids, best
    run_and_wait(api, {'stage': 'time', 'time': 'night'})  # the style check sets the light aside: night passes
    best = ok(api.post(P + '/review/approve-best', json={'stage': 'time'}))
    day = [p['asset_id'] for p in best['approved']]
    assert [p['scene_id'] for p in best['approved']] == scene_ids and not best['unresolved'], best

    dry = ok(api.post(P + '/layout', json={'chapter': 1, 'dry_run': True}))
    assert [x['asset_id'] for page in dry['pages'] for x in page['panels']] == day
    layout = ok(api.post(P + '/layout', json={'chapter': 1}))
    assert layout['pages'] == [{**p, 'page_id': layout['pages'][i]['page_id']} for i, p in enumerate(dry['pages'])]
    page_id = layout['pages'][0]['page_id']
    balloon = {'text': 'Lights out.', 'x': 0.5, 'y': 0.15, 'kind': 'caption'}
    ok(api.post(f'{P}/pages/{page_id}/panels/0/balloons', json=balloon), 201)

    export = ok(api.post(P + '/exports', json={'format': 'cbz', 'dpi': 100}), 201)['export']
    download = api.get(f'{P}/exports/{export["id"]}/download')
    assert download.status_code == 200
    digest = hashlib.sha256(download.content).hexdigest()
    assert digest == export['sha256'] == download.headers['X-Checksum-SHA256']
    package = tmp_path / 'saga.cbz'
    package.write_bytes(download.content)
    result = verify_package(package)
    assert result.ok and result.checked >= 3, result
    with zipfile.ZipFile(package) as z:
        manifest = json.loads(z.read('manifest.json'))
        assert 'ComicInfo.xml' in z.namelist()
    panels = [p for page in manifest['pages'] for p in page['panels']]
    assert [p['asset_id'] for p in panels] == day  # the approved night panels, in scene order
    assert panels[0]['balloons'][0]['text'] == 'Lights out.'
