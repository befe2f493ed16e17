"""Settings: budget, batch limit and QA thresholds are saved and validated; delete needs the slug typed."""

from __future__ import annotations

from nicegui.testing import User

from pages import register_all
from services.projects import projects
from services.projects.demo import ensure_demo


async def test_settings_save_and_validate(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    await user.open('/projects/demo')
    await user.open('/settings')
    user.find('settings-budget').elements.pop().value = 12.5
    user.find('settings-batch').elements.pop().value = 5
    user.find('qa-identity-max-distance').elements.pop().value = 0.5
    user.find('settings-save').click()
    await user.should_see('Settings saved')
    with deps.sessions() as s:
        p = projects.get_project(s, 'demo')
    assert (p.budget_usd, p.batch_limit, p.settings['qa']['identity_max_distance']) == (12.5, 5, 0.5)
    user.find('qa-style-warn').elements.pop().value = 0.9  # warn above pass is refused with the rule
    user.find('settings-save').click()
    await user.should_see('style_warn must be at most style_pass')
    user.find('settings-delete').click()
    await user.should_see('Type the slug "demo" to confirm deletion')
