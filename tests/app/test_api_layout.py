"""Pages over the API: chapters, pages, panels, balloons validated like the editor, and auto-layout (dry first)."""

from __future__ import annotations

import asyncio

from services.review import decisions as review
from tests.app.test_api_fixtures import Api, api, api_deps  # noqa: F401
from tests.services.layout.test_chapters import approved_demo

P = '/api/projects/demo'


async def approved(api: Api) -> list[str]:  # noqa: F811
    demo, run_id = await asyncio.to_thread(approved_demo, api.deps.sessions, api.deps.store)
    with api.deps.sessions() as s:
        return [j.candidates[0].asset.id for j in review.run_review(s, demo.id, run_id)]


async def test_auto_layout_dry_then_real(api: Api) -> None:  # noqa: F811
    ids = await approved(api)
    dry = (await api.post(P + '/layout', json={'chapter': 1, 'dry_run': True})).json()
    assert dry['dry_run'] and dry['chapter_id'] is None and [p['template'] for p in dry['pages']] == ['grid']
    assert [x['asset_id'] for x in dry['pages'][0]['panels']] == ids and dry['pages'][0]['grid'] == {
        'rows': 3,
        'cols': 1,
    }
    assert (await api.get(P + '/chapters')).json()['count'] == 0
    done = (await api.post(P + '/layout', json={'chapter': 1, 'template': 'two'})).json()
    assert not done['dry_run'] and [p['template'] for p in done['pages']] == ['two', 'splash']
    pages = (await api.get(f'{P}/chapters/{done["chapter_id"]}/pages')).json()['pages']
    assert [p['asset_id'] for page in pages for p in page['panels']] == ids
    again = (await api.post(P + '/layout', json={})).json()
    assert again['pages'] == [] and {s['reason'] for s in again['skipped']} == {
        'already on page 1',
        'already on page 2',
    }
    bad = await api.post(P + '/layout', json={'template': 'seven'})
    assert bad.status_code == 422 and bad.json()['error_code'] == 'page_template_unknown'
    events = (await api.get(P + '/audit-events', params={'action': 'layout.'})).json()['audit_events']
    assert [e['action'] for e in events] == ['layout.auto'] * 2  # the two real ones: a dry run writes nothing


async def test_chapters_pages_panels_and_balloons(api: Api) -> None:  # noqa: F811
    ids = await approved(api)
    one = (await api.post(P + '/chapters', json={'title': 'Dusk'})).json()['chapter']
    two = (await api.post(P + '/chapters', json={'title': 'Dawn'})).json()['chapter']
    r = await api.call('PATCH', f'{P}/chapters/{two["id"]}', json={'title': 'Dawn again'})
    assert r.json()['chapter']['title'] == 'Dawn again'
    order = (await api.call('PUT', P + '/chapters/order', json={'ids': [two['id'], one['id']]})).json()
    assert [(c['number'], c['title']) for c in order['chapters']] == [(1, 'Dawn again'), (2, 'Dusk')]
    r = await api.post(P + '/pages', json={'chapter_id': one['id'], 'template': 'four'})
    assert r.status_code == 201 and r.json()['page']['slots'] == 4
    page = r.json()['page']['id']
    second = (await api.post(P + '/pages', json={'chapter_id': one['id']})).json()['page']['id']
    body = {'asset_id': ids[1], 'crop': {'zoom': 1.5, 'x': 0.4, 'y': 0.5}}
    placed = (await api.call('PUT', f'{P}/pages/{page}/panels/2', json=body)).json()['page']
    assert placed['panels'][0] == {'slot': 2, 'asset_id': ids[1], 'crop': body['crop'], 'balloons': []}
    balloon = {'text': 'Look!', 'x': 0.5, 'y': 0.2, 'kind': 'speech', 'tail': 'bottom-left'}
    r = await api.post(f'{P}/pages/{page}/panels/2/balloons', json=balloon)
    assert r.status_code == 201
    caption = {'text': 'Later.', 'x': 0.1, 'y': 0.1, 'kind': 'caption'}
    await api.post(f'{P}/pages/{page}/panels/2/balloons', json=caption)
    r = await api.call('PUT', f'{P}/pages/{page}/panels/2/balloons/0', json={**balloon, 'text': 'Look out!'})
    assert [b['text'] for b in r.json()['page']['panels'][0]['balloons']] == ['Look out!', 'Later.']
    r = await api.call('DELETE', f'{P}/pages/{page}/panels/2/balloons/1')
    assert [b['kind'] for b in r.json()['page']['panels'][0]['balloons']] == ['speech']
    for bad, field in (
        ({**balloon, 'x': 2}, 'x'),
        ({**balloon, 'text': ' '}, 'text'),
        ({**balloon, 'color': 'red'}, 'color'),
    ):
        r = await api.post(f'{P}/pages/{page}/panels/2/balloons', json=bad)
        assert r.status_code == 422 and field in r.json()['error'], r.json()
    r = await api.call('PUT', f'{P}/pages/{page}/panels/2/balloons/5', json=balloon)
    assert r.status_code == 422 and 'has no balloon 6' in r.json()['error']
    r = await api.call('PUT', f'{P}/pages/{page}/panels/2/crop', json={'zoom': 2.0, 'x': 0.5, 'y': 0.6})
    assert r.json()['page']['panels'][0]['crop'] == {'zoom': 2.0, 'x': 0.5, 'y': 0.6}
    r = await api.call('PATCH', f'{P}/pages/{page}', json={'template': 'two'})
    assert r.status_code == 422 and r.json()['error_code'] == 'page_slot_filled'
    r = await api.call('PUT', f'{P}/pages/{page}/panels/9', json={'asset_id': ids[0]})
    assert r.status_code == 422 and 'there is no panel 10' in r.json()['error']
    await api.call('DELETE', f'{P}/pages/{page}/panels/2')
    r = await api.call('PATCH', f'{P}/pages/{page}', json={'template': 'two'})
    assert r.json()['page']['template'] == 'two' and r.json()['page']['panels'] == []
    r = await api.call('PUT', f'{P}/chapters/{one["id"]}/pages/order', json={'ids': [second, page]})
    assert [p['id'] for p in r.json()['pages']] == [second, page]
    await api.call('DELETE', f'{P}/pages/{second}')
    assert (await api.get(f'{P}/pages/{page}')).json()['page']['number'] == 1
    placeable = (await api.get(P + '/placeable-assets')).json()
    assert set(ids) <= {a['id'] for a in placeable['assets']}
    assert (await api.call('DELETE', f'{P}/chapters/{one["id"]}')).json()['deleted'] is True
    assert [c['title'] for c in (await api.get(P + '/chapters')).json()['chapters']] == ['Dawn again']
