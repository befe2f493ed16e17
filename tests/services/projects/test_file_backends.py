"""Project files on S3-compatible storage (moto over real HTTP): written once before their row, read by another
machine through its own cache with the SHA-256 checked, thumbnails local, and a move there and back verified."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from sqlmodel import select

from models.assets import Asset
from models.base import Stage, WorkState
from models.runs import Candidate
from services.errors import Invalid, StorageError
from services.projects import projects
from services.projects.assets import AssetStore
from services.projects.file_backends import FilesConfig, normalize_files_url
from services.projects.file_moves import move_project_files
from services.runs import control as runs
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from tests.fakes.loopback import make_png
from tests.fakes.s3_server import S3Server

BUCKET = 'studio-files'


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')
    with S3Server() as server:
        server.create_bucket(BUCKET)
        yield server


def objects(server: S3Server, prefix: str = '') -> dict[str, str]:
    client = server.client()
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get('Contents', [])
    return {
        o['Key']: hashlib.sha256(client.get_object(Bucket=BUCKET, Key=o['Key'])['Body'].read()).hexdigest()
        for o in listed
    }


def test_a_move_to_s3_and_back_verifies_every_file(s3, sessions, data_dir: Path, demo, tmp_path: Path) -> None:
    store = AssetStore(data_dir, FilesConfig(endpoint_url=s3.endpoint_url))
    with sessions() as s:
        rows = s.exec(select(Asset).where(Asset.project_id == demo.id)).all()
    assert rows
    report = move_project_files(sessions, store, 'demo', f's3://{BUCKET}/kroma/')
    assert (report.source, report.target, report.files) == (
        'local',
        f's3://{BUCKET}/kroma',
        len({r.path for r in rows}),
    )
    stored = objects(s3, 'kroma/demo/')
    assert stored == {f'kroma/demo/{r.path}': r.sha256 for r in rows}
    assert not any((data_dir / 'projects' / 'demo' / r.path).exists() for r in rows)  # moved, not copied

    elsewhere = AssetStore(tmp_path / 'other-machine', FilesConfig(endpoint_url=s3.endpoint_url))
    with sessions() as s:
        project = projects.get_project(s, 'demo')
    assert project.files_url == f's3://{BUCKET}/kroma'
    path = elsewhere.path_of(project, rows[0])
    assert (
        path.is_relative_to(tmp_path / 'other-machine')
        and hashlib.sha256(path.read_bytes()).hexdigest() == rows[0].sha256
    )
    assert elsewhere.thumb_path(project, rows[1]).is_relative_to(tmp_path / 'other-machine')

    with sessions() as s:  # a new file goes to the bucket before its row exists
        new, created = elsewhere.ingest(s, project, make_png((64, 48), 'new'), name='new.png')
    assert created and objects(s3, f'kroma/demo/{new.path}') == {f'kroma/demo/{new.path}': new.sha256}

    back = move_project_files(sessions, store, 'demo', 'local')
    assert back.files == len(rows) + 1 and back.removed == back.files
    assert objects(s3, 'kroma/demo/') == {}
    with sessions() as s:
        for r in s.exec(select(Asset).where(Asset.project_id == demo.id)).all():
            local = data_dir / 'projects' / 'demo' / r.path
            assert hashlib.sha256(local.read_bytes()).hexdigest() == r.sha256


def test_a_changed_object_is_never_used_and_a_move_stops_before_deleting(
    s3, sessions, data_dir, demo, tmp_path
) -> None:
    store = AssetStore(data_dir, FilesConfig(endpoint_url=s3.endpoint_url))
    move_project_files(sessions, store, 'demo', f's3://{BUCKET}/k')
    with sessions() as s:
        row = s.exec(select(Asset).where(Asset.project_id == demo.id)).first()
        project = projects.get_project(s, 'demo')
    s3.client().put_object(Bucket=BUCKET, Key=f'k/demo/{row.path}', Body=b'not the image')
    elsewhere = AssetStore(tmp_path / 'cold', FilesConfig(endpoint_url=s3.endpoint_url))
    with pytest.raises(StorageError, match='does not match its recorded SHA-256'):
        elsewhere.path_of(project, row)
    assert not (tmp_path / 'cold' / 'projects' / 'demo' / row.path).exists()
    (data_dir / 'projects' / 'demo' / row.path).unlink(missing_ok=True)  # this machine's cache is gone too
    with pytest.raises(StorageError):
        move_project_files(sessions, store, 'demo', 'local')
    with sessions() as s:
        assert projects.get_project(s, 'demo').files_url == f's3://{BUCKET}/k'  # nothing moved
    assert len(objects(s3, 'k/demo/')) > 1


def test_a_run_on_an_s3_project_leaves_its_candidates_in_the_bucket(s3, sessions, data_dir, demo) -> None:
    store = AssetStore(data_dir, FilesConfig(default_url=f's3://{BUCKET}/studio', endpoint_url=s3.endpoint_url))
    with sessions() as s:
        project = projects.get_project(s, 'demo')  # files_url None: the studio's default, S3
        row = s.exec(select(Asset).where(Asset.project_id == demo.id)).first()
    assert objects(s3, 'studio/') == {}
    with pytest.raises(StorageError, match='Could not read'):  # its inputs were never moved there: another machine
        AssetStore(data_dir / 'x', store.backends.config).path_of(project, row)  # says so (kroma storage move)
    with sessions() as s:
        run_id = runs.start(s, project, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
    asyncio.run(RunExecutor(sessions=sessions, store=store).drain(run_id=run_id))
    with sessions() as s:
        made = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        assets = {a.id: a for a in s.exec(select(Asset).where(Asset.project_id == demo.id)).all()}
    assert [c.status for c in made] == [WorkState.done] * 3
    stored = objects(s3, 'studio/demo/')
    assert all(stored[f'studio/demo/{assets[c.asset_id].path}'] == assets[c.asset_id].sha256 for c in made)


def test_file_locations_are_checked() -> None:
    assert normalize_files_url(' LOCAL ') == 'local' and normalize_files_url('s3://b-1/a/b/') == 's3://b-1/a/b'
    for bad in ('/tmp/x', 's3://A_b/x', 's3://bucket/a/../b', 'http://x'):
        with pytest.raises(Invalid):
            normalize_files_url(bad)
