"""The continuity ledger: a change is written once and carries forward in story order; every value names its source."""

from __future__ import annotations

import pytest

from models.base import Stage
from models.continuity import ContinuityEventCreate
from models.project import ProjectCreate, ProjectRead
from models.references import CharacterCreate, SceneCreate
from services.errors import Invalid, NotFound, parse
from services.projects import projects
from services.references import characters, ledger, ledger_state, scenes
from services.references import prompt_templates as prompts
from services.references.ledger_state import stage_target


@pytest.fixture
def story(sessions, data_dir) -> ProjectRead:
    """Two chapters: 1.1 Dock (day), 1.2 Lighthouse, 2.1 Cliff (dusk), 2.2 Cave; Eileen in a flight suit."""
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='story', name='Story'), data_dir=data_dir)
        characters.create_character(s, p.id, CharacterCreate(name='Eileen', outfits=['flight suit', 'parka']))
        characters.create_character(s, p.id, CharacterCreate(name='Grace', outfits=['uniform']))
        for name, chapter, cont in (
            ('Cave', 2, {'characters': ['Eileen']}),  # created out of order: story order is chapter, then order
            ('Dock', 1, {'time': 'day', 'weather': 'clear', 'props': ['crate'], 'characters': ['Eileen', 'Grace']}),
            ('Lighthouse', 1, {'characters': ['Eileen'], 'framing': 'close-up'}),
            ('Cliff', 2, {'time': 'dusk'}),
        ):
            order = {'Dock': 1, 'Lighthouse': 2, 'Cliff': 3, 'Cave': 4}[name]
            scenes.create_scene(
                s, p.id, parse(SceneCreate, name=name, chapter=chapter, continuity=cont, sort_order=order)
            )
    return p


def add(s, project: ProjectRead, **fields) -> str:
    return ledger.add_event(s, project.id, parse(ContinuityEventCreate, **fields)).id


def scene_id(s, project: ProjectRead, name: str) -> str:
    return ledger.resolve_scene(s, project.id, name).id


def test_a_change_carries_forward_until_changed_again(sessions, story) -> None:
    with sessions() as s:
        night = add(s, story, scene='1.2', field='time', value='night', note='the storm comes in')
        rain = add(s, story, scene='chapter 1 scene 2', field='weather', value='rain')
        torn = add(s, story, scene='Lighthouse', character='eileen', field='outfit', value='flight suit, torn sleeve')
        add(s, story, scene='2.2', field='weather', value='clear')
    with sessions() as s:
        states = ledger_state.all_states(s, story.id)
        by_name = {st.scene: st for st in states.values()}
    dock, light, cliff, cave = (by_name[n] for n in ('Dock', 'Lighthouse', 'Cliff', 'Cave'))
    assert (dock.value('time'), dock.value('weather')) == ('day', 'clear')
    assert dock.fields['time'].source.kind == 'scene' and 'Dock' in dock.fields['time'].source.label
    assert dock.outfit('Eileen') == 'flight suit'
    assert dock.characters['Eileen']['outfit'].source.kind == 'character'  # the bible's first outfit is the base
    assert (light.value('time'), light.value('weather')) == ('night', 'rain')
    assert light.fields['time'].source.event_id == night and light.fields['time'].source.note == 'the storm comes in'
    assert light.fields['weather'].source.event_id == rain
    assert light.outfit('Eileen') == 'flight suit, torn sleeve'
    assert light.characters['Eileen']['outfit'].source.event_id == torn
    assert light.value('props') == ['crate']  # carried from the dock
    assert (cliff.value('time'), cliff.value('weather')) == ('dusk', 'rain')  # own time, rain carried
    assert cliff.fields['time'].source.kind == 'scene' and cliff.fields['weather'].source.event_id == rain
    assert (cave.value('time'), cave.value('weather')) == ('dusk', 'clear')
    assert cave.outfit('Eileen') == 'flight suit, torn sleeve'  # carried across the chapter break
    assert cave.where == 'chapter 2, scene 2 (Cave)' and light.framing == 'close-up'


def test_lists_add_and_remove_and_panels_hold_from_their_panel_on(sessions, story) -> None:
    with sessions() as s:
        add(s, story, scene='Dock', character='Grace', field='marks', op='add', value='scar on the left cheek')
        add(s, story, scene='Dock', panel=3, character='Grace', field='held', value='lantern')
        add(s, story, scene='Lighthouse', field='props', op='add', value=['rope', 'crate'])
        add(s, story, scene='Cliff', field='props', op='remove', value='crate')
        add(s, story, scene='Cave', character='Grace', field='marks', op='clear')
        dock = scene_id(s, story, 'Dock')
        whole, early, late = (ledger_state.scene_state(s, story.id, dock, panel) for panel in (None, 2, 3))
        states = {st.scene: st for st in ledger_state.all_states(s, story.id).values()}
    assert whole.characters['Grace'].get('held') is None and early.characters['Grace'].get('held') is None
    assert late.characters['Grace']['held'].value == ['lantern'] and late.where.endswith('panel 3')
    assert whole.characters['Grace']['marks'].value == ['scar on the left cheek']
    assert states['Lighthouse'].value('props') == ['crate', 'rope']
    assert states['Cliff'].value('props') == ['rope']
    assert states['Cave'].value('props') == ['rope']
    assert 'Grace' not in states['Cave'].characters  # not present there: the state only lists who is present
    assert states['Cave'].to_dict()['characters'] == {'Eileen': states['Cave'].to_dict()['characters']['Eileen']}


def test_bad_events_are_refused_with_the_rule(sessions, story) -> None:
    with sessions() as s:
        with pytest.raises(Invalid, match='one of day, dusk, night'):
            add(s, story, scene='Dock', field='time', value='noon')
        with pytest.raises(Invalid, match='say whose'):
            add(s, story, scene='Dock', field='outfit', value='coat')
        with pytest.raises(Invalid, match='belongs to the scene'):
            add(s, story, scene='Dock', character='Grace', field='weather', value='rain')
        with pytest.raises(Invalid, match='use set or clear'):
            add(s, story, scene='Dock', field='time', op='add', value='night')
        with pytest.raises(NotFound, match='Chapter 1 has 2 scene'):
            add(s, story, scene='1.7', field='time', value='night')
        with pytest.raises(NotFound, match='No character'):
            add(s, story, scene='Dock', character='Nobody', field='outfit', value='coat')
        with pytest.raises(Invalid, match='Value'):
            parse(ContinuityEventCreate, scene='Dock', field='props', value=['x' * 300])
        assert ledger.list_events(s, story.id) == []


def test_removing_an_event_and_its_scene(sessions, story) -> None:
    with sessions() as s:
        first = add(s, story, scene='Dock', field='weather', value='fog')
        add(s, story, scene='Cliff', field='location', value='north cliff')
        labels = [e.label for e in ledger.list_events(s, story.id)]
    assert labels == ['chapter 1, scene 1 (Dock): weather = fog', 'chapter 2, scene 1 (Cliff): location = north cliff']
    with sessions() as s:
        ledger.remove_event(s, story.id, first)
        scenes.delete_scene(s, story.id, scene_id(s, story, 'Cliff'))
    with sessions() as s:
        assert ledger.list_events(s, story.id) == []  # the scene's events went with it


def test_the_ledger_fills_prompts_and_the_stage_defaults(sessions, story) -> None:
    with sessions() as s:
        add(s, story, scene='1.2', field='time', value='night')
        add(s, story, scene='1.2', field='weather', value='rain')
        add(s, story, scene='1.2', character='Eileen', field='outfit', value='parka')
        light = ledger_state.scene_state(s, story.id, scene_id(s, story, 'Lighthouse'))
        text = prompts.preview(
            s,
            story.id,
            stage=Stage.character,
            text='{characters} | {continuity} | {time} {weather} | {outfits}',
            scene_id=light.scene_id,
        )
    assert stage_target(light, Stage.time) == 'night' and stage_target(light, 'weather') == 'rain'
    assert stage_target(light, Stage.style) is None and stage_target(None, Stage.time) is None
    assert 'Eileen (see reference images; outfit: parka)' in text
    assert (
        'Continuity: time of day night; weather rain; props: crate; characters present: Eileen (outfit: parka).' in text
    )
    assert text.endswith('night rain | Eileen: parka')
