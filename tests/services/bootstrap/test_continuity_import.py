"""Bootstrap covers the ledger: events are data in the prompt and the answer, previewed, imported, re-imported unchanged."""

from __future__ import annotations

import pytest

from models.project import ProjectCreate, ProjectRead
from services.bootstrap.importer import build_prompt, current_settings, import_answer
from services.errors import Invalid
from services.projects import projects
from services.references import characters, ledger, ledger_state

ANSWER = {
    'characters': [{'name': 'Grace', 'outfits': ['uniform'], 'outfit_palettes': {'raincoat': ['#F2C200']}}],
    'scenes': [
        {'name': 'Harbour', 'chapter': 1, 'continuity': {'time': 'day', 'characters': ['Grace'], 'framing': 'wide'}},
        {'name': 'Lighthouse', 'chapter': 1, 'continuity': {'characters': ['Grace']}},
    ],
    'continuity': [
        {'scene': 'Harbour', 'field': 'weather', 'value': 'fog', 'note': 'the fog rolls in'},
        {'scene': 'harbour', 'panel': 3, 'character': 'grace', 'field': 'outfit', 'value': 'raincoat'},
        {'scene': 'Lighthouse', 'character': 'Grace', 'field': 'marks', 'op': 'add', 'value': ['scar']},
    ],
}


@pytest.fixture
def project(sessions, data_dir) -> ProjectRead:
    with sessions() as s:
        return projects.create_project(s, ProjectCreate(slug='light', name='Lighthouse'), data_dir=data_dir)


def test_events_are_previewed_imported_and_reimported_unchanged(sessions, project) -> None:
    with sessions() as s:
        dry = import_answer(s, project, ANSWER, dry_run=True)
        assert ledger.list_events(s, project.id) == []
    assert 'continuity (merge): 3 to create, 0 to update, 0 to delete, 0 unchanged' in dry.lines()
    assert '  + harbour · panel 3 · grace · outfit' in dry.lines()
    with sessions() as s:
        import_answer(s, project, ANSWER, dry_run=False)
    with sessions() as s:
        light = ledger.resolve_scene(s, project.id, 'Lighthouse')
        state = ledger_state.scene_state(s, project.id, light.id)
        again = import_answer(s, project, ANSWER, dry_run=True)
        roundtrip = import_answer(s, project, current_settings(s, project), dry_run=True)
        prompt = build_prompt(s, project)
        grace = characters.find_character(s, project.id, 'Grace')
    assert state.value('weather') == 'fog' and state.outfit('Grace') == 'raincoat'
    assert state.characters['Grace']['marks'].value == ['scar']
    assert state.fields['weather'].source.note == 'the fog rolls in'
    assert grace.outfit_palettes == {'raincoat': ['#f2c200']}
    assert not again.changed and not roundtrip.changed, roundtrip.lines()
    assert '"continuity": [' in prompt and '"note": "the fog rolls in"' in prompt and 'the ledger of changes' in prompt


def test_merge_updates_replace_deletes_and_unknown_names_are_refused(sessions, project) -> None:
    with sessions() as s:
        import_answer(s, project, ANSWER, dry_run=False)
    changed = {'continuity': [{'scene': 'Harbour', 'field': 'weather', 'value': 'rain', 'note': 'storm'}]}
    with sessions() as s:
        merged = import_answer(s, project, changed, dry_run=False)
        assert '  ~ Harbour · weather: note, value' in merged.lines()
        assert len(ledger.list_events(s, project.id)) == 3
        replaced = import_answer(s, project, changed, mode='replace', dry_run=False)
        assert [e.label for e in ledger.list_events(s, project.id)] == ['chapter 1, scene 1 (Harbour): weather = rain']
    assert 'continuity (replace): 0 created, 0 updated, 2 deleted, 1 unchanged' in replaced.lines()
    bad = {'continuity': [{'scene': 'Moon', 'character': 'Zed', 'field': 'outfit', 'value': 'cape'}]}
    with sessions() as s, pytest.raises(Invalid) as e:
        import_answer(s, project, bad, dry_run=True)
    assert 'continuity[0].scene: no scene named "Moon"' in e.value.user_message
    assert 'continuity[0].character: no character named "Zed"' in e.value.user_message
    twice = {'continuity': [ANSWER['continuity'][0], {**ANSWER['continuity'][0], 'value': 'rain'}]}
    with sessions() as s, pytest.raises(Invalid, match='appears twice'):
        import_answer(s, project, twice, dry_run=True)
    with sessions() as s, pytest.raises(Invalid, match=r'continuity\[0\]\.field'):
        import_answer(s, project, {'continuity': [{'scene': 'Harbour', 'field': 'mood', 'value': 'x'}]})
