"""The journey in real Chromium against the real `kroma studio` process; screenshots go to tests/artifacts/."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_journey(studio, browser_page) -> None:
    page = browser_page
    page.goto(studio.url + '/')
    page.get_by_text('Demo: The Long Night').wait_for()
    page.screenshot(path=str(ARTIFACTS / '01-projects.png'))

    page.get_by_role('button', name='New project').click()
    page.get_by_label('Name').fill('Good One')
    page.get_by_label('Slug').fill('Bad Slug!')
    page.get_by_role('button', name='Create').click()
    page.get_by_text('lowercase a–z').first.wait_for()
    page.get_by_label('Slug').fill('good-one')
    page.get_by_role('button', name='Create').click()
    page.get_by_text('Project good-one created').wait_for()
    page.get_by_text('good-one', exact=True).wait_for()
    page.screenshot(path=str(ARTIFACTS / '02-project-created.png'))

    page.goto(studio.url + '/projects/demo')
    page.get_by_text('Latest images (9 in all)').wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0).length >= 9"
    )
    page.screenshot(path=str(ARTIFACTS / '03-demo-overview.png'), full_page=True)
