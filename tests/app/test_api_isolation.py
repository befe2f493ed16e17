"""What a token may touch: a project-scoped token reaches its project's rows and files, and nothing else."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from nicegui import app as nicegui_app
from nicegui.testing import User

from app.api import register_api
from models.project import ProjectCreate
from services.backups.defaults import BackupDefaults
from services.deps import Deps, StudioOptions
from services.projects import projects
from tests.app.test_api_fixtures import LOOPBACK, Api, make_deps, mint
from tests.fakes.s3_server import S3Server
from tests.services.projects.test_assets import png_bytes


@pytest.fixture
async def studio_api(user: User, data_dir: Path, sessions, tmp_path: Path):  # noqa: ANN201
    """The API over a studio with two projects, an allow-listed storage base and an S3 bucket for backups."""
    import httpx

    base = tmp_path / 'art'
    base.mkdir()
    deps = replace(
        make_deps(data_dir, sessions),
        options=StudioOptions(storage_roots=(base.resolve(),), db_path=data_dir / 'kroma.db'),
    )
    with sessions() as s:
        for slug in ('moon', 'sun'):
            projects.create_project(s, ProjectCreate(slug=slug, name=slug.title()), data_dir=data_dir)
    register_api(nicegui_app, deps)
    transport = httpx.ASGITransport(nicegui_app, client=LOOPBACK)
    admin, admin_id = mint(deps)
    scoped, _ = mint(deps, slug='moon')
    async with httpx.AsyncClient(transport=transport, base_url='http://test') as client:
        yield Api(client, deps, admin, admin_id), scoped, base


async def test_a_scoped_token_cannot_repoint_storage_or_backups(studio_api, data_dir: Path) -> None:
    api, scoped, _ = studio_api
    r = await api.call('PUT', '/api/projects/moon/storage/local', token=scoped, json={'project_root': str(data_dir)})
    assert r.status_code == 403 and 'unscoped token' in r.json()['error']
    r = await api.call(
        'PUT', '/api/projects/moon/storage/s3', token=scoped, json={'endpoint_url': 'http://evil.example'}
    )
    assert r.status_code == 403
    r = await api.call('DELETE', '/api/projects/moon?confirm=moon', token=scoped)
    assert r.status_code == 200
    assert (data_dir / 'kroma.db').exists() and (data_dir / 'master.key').exists()
    assert (data_dir / 'projects' / 'sun').exists()


async def test_an_admin_cannot_point_a_root_at_the_data_dir_or_another_project(studio_api, data_dir: Path) -> None:
    api, _, base = studio_api
    for root, words in [
        (data_dir, 'over the api a storage root must be inside'),
        (base.parent, 'over the api a storage root must be inside'),
    ]:
        r = await api.call('PUT', '/api/projects/moon/storage/local', json={'project_root': str(root)})
        assert r.status_code == 400 and words in r.json()['error'].lower()
    (base / 'sun').mkdir()
    r = await api.call('PUT', '/api/projects/sun/storage/local', json={'project_root': str(base / 'sun')})
    assert r.status_code == 200, r.text
    r = await api.call('PUT', '/api/projects/moon/storage/local', json={'project_root': str(base / 'sun')})
    assert r.status_code == 422 and 'overlaps the files of project "sun"' in r.json()['error']
    (base / 'link').symlink_to(data_dir)
    r = await api.call('PUT', '/api/projects/moon/storage/local', json={'project_root': str(base / 'link')})
    assert r.status_code == 400  # resolves outside the allow-listed base: refused before anything else


async def test_outbound_urls_are_validated(studio_api) -> None:
    api, _, _ = studio_api
    for url, code in [
        ('http://169.254.169.254/latest', 'url_link_local'),
        ('http://user:pass@s3.example.com', 'credentials_in_url'),
        ('ftp://s3.example.com', 'url_invalid'),
        ('http://metadata.google.internal', 'url_link_local'),
    ]:
        r = await api.call('PUT', '/api/projects/moon/storage/s3', json={'bucket': 'comics', 'endpoint_url': url})
        assert r.status_code == 422 and r.json()['error_code'] == code, (url, r.text)
    r = await api.call(
        'PUT', '/api/projects/moon/storage/s3', json={'bucket': 'comics', 'endpoint_url': 'http://127.0.0.1:9000'}
    )
    assert r.status_code == 200


async def test_a_project_backup_over_the_api_holds_only_that_project(
    studio_api, sessions, tmp_path: Path, monkeypatch
) -> None:
    api, scoped, _ = studio_api
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')
    deps: Deps = api.deps
    with sessions() as s:
        sun = projects.get_project(s, 'sun')
        deps.store.upload_many(s, sun, [('sun.png', png_bytes((200, 100, 0)))])
    with S3Server() as s3:
        s3.create_bucket('studio')
        defaults = BackupDefaults(bucket='studio', endpoint_url=s3.endpoint_url, db_path=deps.data_dir / 'kroma.db')
        object.__setattr__(deps, 'backup', defaults)  # the same Deps object the routes were built with
        r = await api.call('POST', '/api/backups', token=scoped, json={'project_slug': 'moon'})
        assert r.status_code == 201, r.text
        r = await api.call('POST', '/api/backups', token=scoped, json={})
        assert r.status_code == 403  # never 'all projects' with a scoped token
        key = (await api.call('GET', '/api/backups?project_slug=moon', token=scoped)).json()['backups'][0]['key']
        from services.backups.config import backup_service, resolve_target

        service = backup_service(resolve_target(defaults=defaults, project=None, secrets=None, session=None),
                                 data_dir=deps.data_dir, db_path=deps.data_dir / 'kroma.db')  # fmt: skip
        service.restore(key, tmp_path / 'restored')
    con = sqlite3.connect(tmp_path / 'restored' / 'kroma.db')
    try:
        assert con.execute('SELECT slug FROM project').fetchall() == [('moon',)]
        assert con.execute('SELECT count(*) FROM apitoken').fetchone() == (0,)
    finally:
        con.close()
    assert not (tmp_path / 'restored' / 'projects' / 'sun').exists()


async def test_only_an_admin_sets_the_address_a_provider_is_called_at(studio_api) -> None:
    api, scoped, _ = studio_api
    body = {'name': 'My Comfy', 'kind': 'comfyui', 'base_url': 'http://127.0.0.1:8188'}
    r = await api.call('POST', '/api/projects/moon/provider-accounts', token=scoped, json=body)
    assert r.status_code == 403 and 'unscoped token' in r.json()['error']
    r = await api.call(
        'POST', '/api/projects/moon/provider-accounts', token=scoped, json={'name': 'Offline', 'kind': 'local'}
    )
    assert r.status_code == 201, r.text
    account_id = r.json()['provider_account']['id']
    r = await api.call('PATCH', f'/api/projects/moon/provider-accounts/{account_id}', token=scoped,
                       json={'base_url': 'http://169.254.169.254/'})  # fmt: skip
    assert r.status_code == 403
    r = await api.call('POST', '/api/projects/moon/provider-accounts', json=body)
    assert r.status_code == 201, r.text
