"""J01 in the UI: create a project through the dialog; a bad slug shows the rule it breaks."""

from __future__ import annotations

from nicegui.testing import User

from models.project import ProjectCreate
from pages import register_all
from services.projects import projects
from services.projects.demo import ensure_demo


async def test_create_project_through_the_dialog(user: User, deps) -> None:
    register_all(deps)
    await user.open('/')
    await user.should_see('No projects yet')
    user.find('new-project').click()
    user.find('project-name').type('Good One')
    user.find('project-slug').type('Bad Slug!')
    user.find('create-project').click()
    await user.should_see('lowercase a–z')
    user.find('project-slug').clear()
    user.find('project-slug').type('good-one')
    user.find('create-project').click()
    await user.should_see('Project good-one created')
    await user.should_see(marker='project-card-good-one')
    with deps.sessions() as s:
        assert projects.get_project(s, 'good-one').name == 'Good One'


async def test_duplicate_slug_is_a_notification_not_a_trace(user: User, deps) -> None:
    with deps.sessions() as s:
        projects.create_project(s, ProjectCreate(slug='taken', name='Taken'), data_dir=deps.data_dir)
    register_all(deps)
    await user.open('/')
    user.find('new-project').click()
    user.find('project-slug').type('taken')
    user.find('create-project').click()
    await user.should_see('already exists')


async def test_project_overview_shows_stats_and_images(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    await user.open('/projects/demo')
    await user.should_see('Demo: The Long Night')
    assert user.find('stat-assets').elements.pop().text == '9'
    assert len(user.find('gallery-item').elements) == 9


async def test_every_navigation_entry_opens_a_page(user: User, deps) -> None:
    from components.theme import NAV

    register_all(deps)
    for _label, route, _icon in NAV:
        await user.open(route)
        await user.should_see('Kroma Studio')


async def test_an_over_long_name_is_a_notification_naming_the_limit(user: User, deps) -> None:
    register_all(deps)
    await user.open('/')
    user.find('new-project').click()
    user.find('project-name').type('x' * 300)
    user.find('project-slug').clear()
    user.find('project-slug').type('long')
    user.find('create-project').click()
    await user.should_see('Name: at most 200 characters (got 300).')
    with deps.sessions() as s:
        assert projects.list_projects(s, include_archived=True) == []


async def test_unknown_project_run_and_review_urls_get_a_friendly_page(user, deps, caplog) -> None:  # noqa: ANN001
    from pages import register_all

    register_all(deps)
    await user.open('/projects/no-such-thing')
    await user.should_see('There is no project "no-such-thing".')
    await user.should_see(marker='not-found-home')
    await user.open('/runs/0123456789abcdef')
    await user.should_see('There is no run "0123456789abcdef".')
    await user.open('/review/0123456789abcdef')
    await user.should_see('There is no run "0123456789abcdef".')
    assert not [r for r in caplog.records if r.levelname == 'ERROR']
