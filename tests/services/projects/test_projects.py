"""Projects service against a real SQLite file and data dir."""

from __future__ import annotations

import pytest

from models.project import ProjectCreate, ProjectUpdate, StorageUpdate
from services.errors import Conflict, Invalid, NotFound
from services.projects import projects

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


@pytest.mark.parametrize(
    ('slug', 'rule'),
    [
        ('Bad Slug!', 'lowercase a–z'),
        ('a', '2–64 characters'),
        ('x' * 65, '2–64 characters'),
        ('Upper', 'must be lowercase'),
        ('api', 'reserved word'),
        ('has space', "' '"),
    ],
)
def test_slug_rules_name_the_rule(slug: str, rule: str) -> None:
    with pytest.raises(Invalid) as e:
        projects.validate_slug(slug)
    assert rule in e.value.user_message
    assert e.value.code == 'invalid_project_slug'


def test_create_list_update_archive_delete(sessions, data_dir) -> None:
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='good-one', name='Good One'), data_dir=data_dir)
    assert (data_dir / 'projects' / 'good-one').is_dir()
    with sessions() as s, pytest.raises(Conflict):
        projects.create_project(s, ProjectCreate(slug='good-one', name='Again'), data_dir=data_dir)
    with sessions() as s:
        updated = projects.update_project(s, 'good-one', ProjectUpdate(description='A story'))
    assert updated.name == 'Good One' and updated.description == 'A story'
    with sessions() as s:
        listed = projects.list_projects(s)
    assert [r.project.slug for r in listed] == ['good-one']
    assert listed[0].stats.assets == 0 and listed[0].stats.qa_pass_rate is None
    with sessions() as s:
        projects.archive_project(s, 'good-one')
        assert projects.list_projects(s) == []
        assert len(projects.list_projects(s, include_archived=True)) == 1
    with sessions() as s, pytest.raises(Invalid, match='Type the slug'):
        projects.delete_project(s, 'good-one', confirm='nope', data_dir=data_dir)
    with sessions() as s:
        projects.delete_project(s, 'good-one', confirm='good-one', data_dir=data_dir)
    assert not (data_dir / 'projects' / 'good-one').exists()
    with sessions() as s, pytest.raises(NotFound):
        projects.get_project(s, p.slug)


def test_storage_settings_are_validated(sessions, data_dir, tmp_path) -> None:
    with sessions() as s:
        projects.create_project(s, ProjectCreate(slug='store', name='Store'), data_dir=data_dir)
    with sessions() as s, pytest.raises(Invalid, match='does not exist or is not writable'):
        projects.update_storage(s, 'store', StorageUpdate(storage_root=str(tmp_path / 'missing')), data_dir=data_dir)
    with sessions() as s, pytest.raises(Invalid, match='absolute'):
        projects.update_storage(s, 'store', StorageUpdate(storage_root='relative/dir'), data_dir=data_dir)
    with sessions() as s, pytest.raises(Invalid, match='bucket'):
        projects.update_storage(s, 'store', StorageUpdate(s3_bucket='Bad_Bucket'), data_dir=data_dir)
    outside = tmp_path / 'outside'
    outside.mkdir()
    with sessions() as s:
        p = projects.update_storage(
            s,
            'store',
            StorageUpdate(
                storage_root=str(outside),
                s3_bucket='comics',
                s3_prefix='/studio/',
                s3_endpoint_url='http://127.0.0.1:9000',
            ),
            data_dir=data_dir,
        )
    assert p.storage_root == str(outside.resolve()) and p.s3_bucket == 'comics' and p.s3_prefix == 'studio'
    assert projects.project_root(p, data_dir) == outside.resolve()
