"""J03 bootstrap: find the JSON in a chatbot's answer, name bad fields by path, preview, apply, re-import unchanged."""

from __future__ import annotations

import json
import os

import pytest
from sqlmodel import func, select

from models.base import AssetKind
from models.ops import AuditEvent
from models.project import ProjectCreate, ProjectRead
from models.references import Character, ReferenceSetItem, Scene
from services.bootstrap import importer as bootstrap
from services.bootstrap.importer import extract_json, import_answer
from services.errors import Invalid
from services.projects import projects
from services.projects.assets import AssetStore
from services.references import characters, reference_sets, scenes, style_guides
from services.references import prompt_templates as prompts
from services.security import audit
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.services.projects.test_assets import png_bytes

SECRET_VALUE = 'sk-live-Qw3rTy9UiOp2AsDf'

ANSWER = {
    'project': {'description': 'Lighthouse keepers at the end of the world.'},
    'style_guides': [{'name': 'Sepia ink', 'rules': 'Bold outlines.', 'palette': ['#18141C', '#b0845c']}],
    'characters': [
        {'name': 'Grace', 'bible': 'Retired captain, grey curls.', 'palette': ['#1c2233'], 'outfits': ['uniform']},
        {'name': 'Tom', 'bible': 'Her grandson, red scarf.'},
    ],
    'scenes': [
        {
            'name': 'Harbour',
            'description': 'Stone quay, fishing boats.',
            'chapter': 1,
            'continuity': {'time': 'night', 'weather': 'rain', 'props': ['lantern'], 'characters': ['Grace']},
            'reference_image': 'harbour.png',
        }
    ],
    'reference_sets': [
        {'name': 'Harbour mood', 'items': [{'label': 'wide', 'image': 'harbour.png'}, {'text': 'Fog hides the shore.'}]}
    ],
    'prompt_templates': [{'stage': 'style', 'text': 'Redraw {scene} in this style: {style_guide}'}],
    'secrets': [{'provider': 'openai', 'name': 'api_key'}],
}
CHATBOT = (
    'Sure! Here is the configuration for your lighthouse comic {as requested}:\n\n```json\n'
    + json.dumps(ANSWER, indent=2)
    + '\n```\n\nLet me know if you want more characters.'
)


@pytest.fixture
def project(sessions, data_dir) -> ProjectRead:
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='light', name='Lighthouse'), data_dir=data_dir)
        AssetStore(data_dir).ingest(s, p, png_bytes((20, 40, 60)), name='harbour.png', kind=AssetKind.scene)
    return p


def counts(sessions) -> dict[str, int]:
    with sessions() as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one() for m in (Character, Scene, AuditEvent)}


def test_json_is_found_raw_fenced_or_between_braces() -> None:
    assert extract_json('{"a": 1}') == {'a': 1}
    assert extract_json('Here you go:\n```json\n{"a": 2}\n```\nEnjoy!') == {'a': 2}
    assert extract_json('Here you go: {"a": {"b": "}"}} and a {stray} brace') == {'a': {'b': '}'}}
    assert extract_json('prose {"a": 3} more prose }') == {'a': 3}
    with pytest.raises(Invalid, match='No JSON object'):
        extract_json('I cannot help with that.')
    with pytest.raises(Invalid, match=r"Expecting ',' delimiter at line 3"):
        extract_json('```json\n{\n "a": 1\n "b": 2\n}\n```')


def test_pathological_answers_are_refused_not_crashed_on(sessions, project) -> None:
    with pytest.raises(Invalid, match='nests 100000 levels deep'):
        extract_json('[' * 100_000 + ']' * 100_000)
    with pytest.raises(Invalid, match='too long to read'):
        extract_json('{"characters": [{"name": "A", "age": ' + '7' * 5001 + '}]}')
    deep: dict = {}
    inner = deep
    for _ in range(200):
        inner['x'] = {}
        inner = inner['x']
    with sessions() as s, pytest.raises(Invalid, match='more than 32 levels'):
        import_answer(s, project, deep)


def test_validation_names_the_field_path(sessions, project) -> None:
    bad = {'characters': [{'name': 'A'}, {'name': 'B'}, {'name': 'C', 'palette': ['red']}], 'scenes': [{'name': ''}]}
    with sessions() as s, pytest.raises(Invalid) as err:
        import_answer(s, project, bad)
    assert 'characters[2].palette[0]: not a hex colour' in err.value.user_message
    assert 'scenes[0].name: must not be empty' in err.value.user_message
    with sessions() as s, pytest.raises(Invalid, match=r'characters\[1\]\.name: "grace" appears twice'):
        import_answer(s, project, {'characters': [{'name': 'Grace'}, {'name': 'grace'}]})
    with sessions() as s, pytest.raises(Invalid, match=r'reference_sets\[0\]\.items\[0\]\.image: no image'):
        import_answer(s, project, {'reference_sets': [{'name': 'x', 'items': [{'image': 'nope.png'}]}]})
    with sessions() as s, pytest.raises(Invalid, match=r'secrets\[0\]: "value" looks like a secret value'):
        import_answer(s, project, {'secrets': [{'provider': 'openai', 'name': 'api_key', 'value': SECRET_VALUE}]})
    with sessions() as s, pytest.raises(Invalid, match='no section'):
        import_answer(s, project, {'mode': 'merge'})


@pytest.mark.parametrize(
    ('answer', 'message'),
    [
        ({'prompt_templates': [{'stage': 'style', 'text': '{scene:d}'}]}, 'prompt_templates[0].text: placeholder {scene:d} has a format'),
        ({'prompt_templates': [{'stage': 'style', 'text': '{scene:x>20000000}'}]}, 'placeholder {scene:x>20000000} has a format'),
        ({'prompt_templates': [{'stage': 'style', 'text': 'Draw {0}'}]}, 'prompt_templates[0].text: unknown placeholder {0}'),
        ({'characters': [{'name': 'Tom', 'bible': 'x' * 20_001}]}, 'characters[0].bible: at most 20,000 characters (got 20,001)'),
        ({'characters': [{'name': 'Tom', 'outfits': ['coat'] * 33}]}, 'characters[0].outfits: at most 32 items (got 33)'),
        ({'project': {'description': 'x' * 5_001}}, 'project.description: at most 5,000 characters (got 5,001)'),
        ({'scenes': [{'name': 'Pier', 'continuity': {'mood': 'grim'}}]}, 'scenes[0].continuity.mood: not a known field'),
    ],
)  # fmt: skip
def test_an_answer_meets_the_same_limits_as_the_forms(sessions, project, answer, message) -> None:
    """The sections are the studio's own models, so what a form refuses an import refuses too, before any write."""
    before = counts(sessions)
    with sessions() as s, pytest.raises(Invalid) as err:
        import_answer(s, project, answer, dry_run=False)
    assert message in err.value.user_message
    assert counts(sessions) == before


def test_dry_run_changes_nothing_then_apply_then_same_answer_is_unchanged(sessions, project) -> None:
    before = counts(sessions)
    with sessions() as s:
        preview = import_answer(s, project, CHATBOT, dry_run=True)
    assert counts(sessions) == before
    text = '\n'.join(preview.lines())
    assert 'Dry run' in text and '  + Grace' in text and '  + Harbour' in text
    assert 'characters (merge): 2 to create' in text
    assert 'project: description to update' in text
    assert '? openai/api_key: not set up' in text

    with sessions() as s:
        done = import_answer(s, project, CHATBOT, dry_run=False, actor='tester')
    assert done.changed
    with sessions() as s:
        grace = characters.find_character(s, project.id, 'grace')
        assert grace.palette == ['#1c2233'] and grace.outfits == ['uniform']
        assert style_guides.list_style_guides(s, project.id)[0].palette == ['#18141c', '#b0845c']
        harbour = scenes.list_scenes(s, project.id)[0]
        assert harbour.continuity == {'time': 'night', 'weather': 'rain', 'props': ['lantern'], 'characters': ['Grace']}
        assert harbour.reference_asset_id is not None
        (mood,) = reference_sets.list_sets(s, project.id)
        assert [(i.original_name, i.content_text) for i in mood.items] == [
            ('harbour.png', ''),
            (None, 'Fog hides the shore.'),
        ]
        assert prompts.list_templates(s, project.id)[0].version == 1
        assert projects.get_project(s, 'light').description.startswith('Lighthouse keepers')
        events = [e for e in audit.list_events(s, project.id) if e['action'] == 'bootstrap.import']
        assert events[0]['actor'] == 'tester' and events[0]['payload']['sections']['characters']['create'] == 2

    with sessions() as s:
        again = import_answer(s, project, CHATBOT, dry_run=False)
    assert not again.changed
    assert all(c.action in ('unchanged', 'missing') for sec in again.sections for c in sec.changes)
    with sessions() as s:
        assert prompts.list_templates(s, project.id)[0].version == 1  # no new version for the same text


def test_merge_touches_only_given_fields_and_replace_deletes_the_rest(sessions, project) -> None:
    with sessions() as s:
        import_answer(s, project, CHATBOT, dry_run=False)
    merge = {'characters': [{'name': 'grace', 'bible': 'Now a harbour master.'}, {'name': 'Ada'}]}
    with sessions() as s:
        report = import_answer(s, project, merge, dry_run=False)
    (sec,) = report.sections
    assert [(c.name, c.action, c.fields) for c in sec.changes] == [
        ('Grace', 'update', ('name', 'bible')),
        ('Ada', 'create', ()),
        ('Tom', 'unchanged', ()),
    ]
    with sessions() as s:
        grace = characters.find_character(s, project.id, 'Grace')
        assert (grace.name, grace.bible, grace.palette) == ('grace', 'Now a harbour master.', ['#1c2233'])

    replace = {
        'characters': [{'name': 'Ada', 'bible': 'Keeper.'}],
        'reference_sets': [{'name': 'Harbour mood', 'items': []}],
    }
    with sessions() as s:
        report = import_answer(s, project, replace, mode={'characters': 'replace'}, dry_run=False)
    chars, sets = report.sections
    assert chars.mode == 'replace' and sorted(chars.names('delete')) == ['Tom', 'grace']
    assert sets.mode == 'merge' and [c.fields for c in sets.changes] == [('items',)]
    with sessions() as s:
        assert [c.name for c in characters.list_characters(s, project.id)] == ['Ada']
        assert s.exec(select(func.count()).select_from(ReferenceSetItem)).one() == 0
        assert len(scenes.list_scenes(s, project.id)) == 1  # a section left out is untouched


def test_prompt_holds_settings_and_secret_names_never_values(sessions, project, data_dir) -> None:
    with sessions() as s:
        import_answer(s, project, CHATBOT, dry_run=False)
        store = SecretStore(KeyRing(MasterKey.from_bytes(os.urandom(32))))
        store.put(s, scope=project.id, provider='openai', name='api_key', value=SECRET_VALUE)
        text = bootstrap.build_prompt(s, project)
        settings = bootstrap.current_settings(s, project)
    assert SECRET_VALUE not in text and '"has_value": true' in text
    assert 'Grace' in text and 'harbour.png' in text and '{style_guide}' in text
    with sessions() as s:
        report = import_answer(s, project, text.split('Current project settings:')[1], dry_run=True)
    assert not report.changed, report.lines()
    assert report.sections[-1].section == 'secrets' and report.sections[-1].names('unchanged') == ['openai/api_key']
    assert settings['reference_sets'][0]['items'][0]['image'] == settings['scenes'][0]['reference_image']
