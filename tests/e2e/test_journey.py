"""The journey in real Chromium against the real `kroma studio` process; screenshots go to tests/artifacts/."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def shot(page, name: str) -> None:  # noqa: ANN001
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_journey(studio, browser_page) -> None:
    page = browser_page
    page.goto(studio.url + '/')
    page.get_by_text('Demo: The Long Night').wait_for()
    shot(page, '01-projects.png')

    # J01: a bad slug names the rule; a good one is created and listed
    page.get_by_role('button', name='New project').click()
    page.get_by_label('Name').fill('Good One')
    page.get_by_label('Slug').fill('Bad Slug!')
    page.get_by_role('button', name='Create').click()
    page.get_by_text('lowercase a–z').first.wait_for()
    page.get_by_label('Slug').fill('good-one')
    page.get_by_role('button', name='Create').click()
    page.get_by_text('Project good-one created').wait_for()
    page.get_by_text('good-one', exact=True).wait_for()
    shot(page, '02-project-created.png')

    page.goto(studio.url + '/projects/demo')
    page.get_by_text('Latest images (9 in all)').wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0).length >= 9"
    )
    shot(page, '03-demo-overview.png')

    # J04: plan, start a style run on the offline renderer, watch it finish in the background worker
    page.goto(studio.url + '/runs')
    page.get_by_role('button', name='Show plan').click()
    page.get_by_text('Estimated cost: free (offline renderer)').wait_for()
    shot(page, '04-run-plan.png')
    page.get_by_text('Run', exact=True).click()
    page.get_by_role('button', name='Start').click()
    page.get_by_text('9/9 candidates').wait_for(timeout=90_000)
    page.wait_for_function("() => document.querySelectorAll('img').length >= 9")
    shot(page, '05-run-done.png')

    # J04 review: the best candidate is pre-selected; the `a` key approves it
    page.get_by_role('button', name='Review').click()
    page.get_by_text('Keys: ←/→ move').wait_for()
    page.keyboard.press('a')
    page.get_by_text('approved').first.wait_for()
    shot(page, '06-review.png')

    # J00: the setup page lists the built-in offline renderer
    page.goto(studio.url + '/setup')
    page.get_by_text('Offline renderer').first.wait_for()
    shot(page, '07-setup.png')
