"""The prompt-template preview and the real run compose the same text; an empty label never reaches a prompt."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.base import Stage
from models.references import PromptTemplateCreate, Scene
from services.references import prompt_templates as prompts
from services.runs import control as runs
from services.runs.plan import RunRequest

TEMPLATE = 'Redraw {scene}. Characters: {characters}. Time: {time}. {continuity}'


@pytest.mark.parametrize('stage', [Stage.style, Stage.character])
def test_preview_and_plan_compose_the_same_prompt(sessions, demo, stage) -> None:
    with sessions() as s:
        prompts.save_template(s, demo.id, PromptTemplateCreate(stage=stage, text=TEMPLATE))
        street = s.exec(select(Scene).where(Scene.name == 'Night street')).one()
        preview = prompts.preview(s, demo.id, stage=stage, text=TEMPLATE, scene_id=street.id)
        plan, _ = runs.plan(s, demo, RunRequest(stage=stage, scene_ids=[street.id]))
    assert preview == plan.jobs[0].prompt
    assert 'Characters: Eileen (' in preview and 'Grace (' in preview  # the scene's present characters, both ways


def test_an_empty_label_goes_away_whole() -> None:
    text = prompts.compose(
        'Draw it. Characters: {characters}. Weather: {weather}.', stage=Stage.style, scene=None, guide=None
    )
    assert text == 'Draw it. Weather: clear.'


def test_a_scene_with_no_characters_prints_no_characters_label(sessions, demo) -> None:
    from models.references import SceneCreate
    from services.references import scenes

    with sessions() as s:
        empty = scenes.create_scene(s, demo.id, SceneCreate(name='Empty pier', description='Nobody here'))
        preview = prompts.preview(s, demo.id, stage=Stage.style, text=TEMPLATE, scene_id=empty.id)
    assert 'Characters' not in preview and preview.startswith('Redraw Empty pier: Nobody here. Time: ')
    assert 'Time: night.' in preview  # the ledger carries the scene before's night forward until changed
