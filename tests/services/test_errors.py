"""Pydantic validation errors become one typed Invalid whose message names each field by its label and its limit."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from models.base import Input
from models.layout import BalloonData, Crop
from models.project import ProjectCreate, ProjectUpdate
from models.provider import ProviderAccountCreate
from models.references import CharacterCreate, PromptTemplateCreate, SceneCreate
from services.errors import Invalid, parse


def refusal(model: type[BaseModel], data: object, **kw: str) -> Invalid:
    with pytest.raises(Invalid) as err:
        parse(model, data, **kw)
    assert err.value.status == 422 and err.value.code in ('validation_error', kw.get('code'))
    return err.value


@pytest.mark.parametrize(
    ('model', 'data', 'message'),
    [
        (ProjectCreate, {'slug': 'saga', 'name': 'x' * 10_000}, 'Name: at most 200 characters (got 10,000).'),
        (ProjectCreate, {'slug': 'saga', 'name': '   '}, 'Name: must not be empty.'),
        (ProjectCreate, {'slug': 'saga'}, 'Name: required.'),
        (ProjectUpdate, {'batch_limit': 1000}, 'Batch limit (jobs per run): must be a whole number from 1 to 500 (got 1,000).'),
        (ProjectUpdate, {'budget_usd': -1}, 'Budget (USD): must be a number from 0 to 1,000,000 (got -1).'),
        (ProjectUpdate, {'budget_usd': 'nan'}, 'Budget (USD): must be a finite number.'),
        (ProjectUpdate, {'batch_limit': 'many'}, 'Batch limit (jobs per run): must be a whole number.'),
        (CharacterCreate, {'name': 'A', 'outfits': ['coat'] * 33}, 'Outfits: at most 32 items (got 33).'),
        (CharacterCreate, {'name': 'A', 'palette': ['#ffffff', 'red']}, 'Palette item 2: not a hex colour like #1a2b3c (got "red").'),
        (SceneCreate, {'name': 'Quay', 'continuity': {'time': 'noon'}}, "Continuity › Time: must be one of 'day', 'dusk' or 'night'."),
        (SceneCreate, {'name': 'Quay', 'chapter': 10**6}, 'Chapter: must be a whole number from 0 to 100,000 (got 1,000,000).'),
        (SceneCreate, {'name': 'Quay', 'continuity': {'mood': 'grim'}}, 'Continuity: unknown field "mood"; known fields: characters, framing, props, time, weather.'),
    ],
)  # fmt: skip
def test_the_message_names_the_field_by_its_label_and_states_the_limit(model, data, message) -> None:
    assert refusal(model, data).user_message == message


def test_an_unknown_field_is_named_with_the_known_ones() -> None:
    err = refusal(CharacterCreate, {'name': 'Mara', 'age': 31})
    assert err.user_message == 'Unknown field "age"; known fields: bible, name, outfit_palettes, outfits, palette.'
    assert err.details['field'] == 'age'


def test_several_problems_are_listed_in_one_message_and_the_rest_counted() -> None:
    data = {'text': ' ', 'x': 2, 'y': True, 'kind': 'shout', 'font_size': 2, 'width': 0, 'colour': 'red'}
    message = refusal(BalloonData, data, where='Balloon 3').user_message
    assert message.startswith('Balloon 3 text: must not be empty. Balloon 3 x: must be a number from 0 to 1 (got 2).')
    assert message.endswith('(and 2 more)') and message.count('Balloon 3') == 5


def test_where_says_which_of_many_and_the_code_can_be_set() -> None:
    err = refusal(Crop, {'zoom': 9}, where='Panel 2 crop', code='crop_invalid')
    assert err.user_message == 'Panel 2 crop zoom: must be a number from 1 to 4 (got 9).' and err.code == 'crop_invalid'
    assert (
        refusal(Crop, ['not', 'an', 'object'], where='Panel 2 crop').user_message == 'Panel 2 crop: must be an object.'
    )


def test_a_secret_is_never_repeated_in_the_message() -> None:
    key = 'sk-' + 'S' * 70_000
    message = refusal(ProviderAccountCreate, {'name': 'Cloud', 'api_key': key}).user_message
    assert message == 'API key: at most 65,536 characters (got 70,003).' and 'SSSS' not in message


def test_huge_numbers_stay_short() -> None:
    message = refusal(ProjectUpdate, {'batch_limit': 10**5000}).user_message
    assert (
        message == 'Batch limit (jobs per run): must be a whole number from 1 to 500 (got a number too large to show).'
    )


@pytest.mark.parametrize(
    ('text', 'named'),
    [
        ('Draw {scene:d}', 'placeholder {scene:d} has a format'),
        ('Draw {scene:x>20000000}', 'placeholder {scene:x>20000000} has a format'),
        ('Draw {scene!r}', 'placeholder {scene!r} has a format'),
        ('Draw {0}', 'unknown placeholder {0}'),
        ('Draw {}', 'unknown placeholder {}'),
        ('Draw {scene.name}', 'unknown placeholder {scene.name}'),
        ('Draw {sceen}', 'unknown placeholder {sceen}'),
        ('Draw {scene', 'braces are unbalanced'),
    ],
)
def test_template_placeholders_are_names_only(text: str, named: str) -> None:
    message = refusal(PromptTemplateCreate, {'stage': 'style', 'text': text}).user_message
    assert message.startswith(f'Template text: {named}')


def test_known_placeholders_and_literal_braces_pass() -> None:
    text = 'Draw {scene} at {time} in {weather}; {{not a placeholder}}'
    assert parse(PromptTemplateCreate, stage='style', text=text).text == text


def test_a_field_without_a_title_is_named_as_declared() -> None:
    class Plain(Input):
        page_size: int = Field(48, ge=1, le=500)

    assert refusal(Plain, {'page_size': 0}).user_message == 'page_size: must be a whole number from 1 to 500 (got 0).'
