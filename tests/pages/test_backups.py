"""The Backups page against a real S3 endpoint: back up now, verify, restore, and the refusals and set-up help."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from pages import backups
from services.backups.defaults import BackupDefaults
from services.deps import Deps
from services.projects.demo import ensure_demo
from tests.fakes.s3_server import S3Server


@pytest.fixture(scope='module')
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'test')  # moto's dummy credentials through boto3's usual chain
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'test')


def with_backup(deps: Deps, **values: object) -> Deps:
    defaults = BackupDefaults(db_path=deps.data_dir / 'kroma.db', **values)  # type: ignore[arg-type]
    return replace(deps, key_file=deps.data_dir / 'master.key', backup=defaults)


async def test_back_up_verify_and_restore_from_the_page(
    user: User, deps: Deps, s3: S3Server, aws_env: None, tmp_path: Path
) -> None:
    ensure_demo(deps.sessions, deps.store)
    bucket = s3.create_bucket(f'kroma-{uuid.uuid4().hex[:10]}')
    backups.register(with_backup(deps, endpoint_url=s3.endpoint_url, bucket=bucket))
    await user.open('/backups')
    await user.should_see('The master key is never uploaded', retries=1)
    await user.should_see(f'Master key: {deps.data_dir / "master.key"}')
    await user.should_see(marker='no-snapshots')

    user.find('backup-now').click()
    await user.should_see(marker='snapshot-status', content='complete', retries=100)
    await user.should_see('Backup complete: 9 files')
    assert len(user.find('snapshot-row').elements) == 1

    user.find('verify-button').click()
    await user.should_see('ok, 10 files checked', retries=100)
    await user.should_see('Snapshot ok')

    occupied = tmp_path / 'occupied'
    occupied.mkdir()
    (occupied / 'keep.txt').write_text('mine')
    user.find('restore-button').click()
    user.find('restore-dir').type(str(occupied))
    user.find('restore-confirm').click()
    await user.should_see(f'{occupied} is not empty; restore only into a new or empty folder.', retries=50)
    assert [p.name for p in occupied.iterdir()] == ['keep.txt']

    fresh = tmp_path / 'fresh-home'
    user.find('restore-dir').clear().type(str(fresh))
    user.find('restore-confirm').click()
    await user.should_see(f'Restored 9 files and the database into {fresh}', retries=100)
    assert (fresh / 'kroma.db').is_file() and (fresh / 'projects' / 'demo').is_dir()


async def test_without_a_bucket_the_page_explains_how_to_configure(user: User, deps: Deps) -> None:
    backups.register(replace(with_backup(deps), key_file=None))
    await user.open('/backups')
    await user.should_see("Backups need a bucket: set KROMA_BACKUP_S3_BUCKET or the project's S3 bucket")
    await user.should_see('Master key: from KROMA_MASTER_KEY')
    await user.should_not_see(marker='backup-now')
    await user.should_not_see(kind=ui.button, content='Verify')
