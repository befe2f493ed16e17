"""The right references for each shot: framing and the ledger's outfit decide, the provider's cap limits, pins win."""

from __future__ import annotations

from sqlmodel import select

from models.base import AssetKind, Stage
from models.continuity import ContinuityEventCreate
from models.references import CharacterReferenceCreate, Scene, SceneUpdate
from services.errors import parse
from services.providers.input_caps import input_cap
from services.references import characters, ledger, scenes
from services.references.reference_picker import RefTags, pick_references
from services.runs.plan import RunRequest, plan_run
from tests.services.projects.test_assets import png_bytes

ANGLES = ('front', 'three-quarter', 'profile', 'back')


def twenty_references() -> list[tuple[str, str, str, str]]:
    """(angle, shot, outfit, expression): every angle × head/full body in two outfits, and four extra front heads."""
    refs = [(a, shot, o, '') for o in ('flight suit', 'parka') for a in ANGLES for shot in ('head', 'full-body')]
    refs += [('front', 'head', o, e) for o in ('flight suit', 'parka') for e in ('smiling', 'angry')]
    return refs


def test_close_up_prefers_front_and_three_quarter_heads_in_the_current_outfit() -> None:
    refs = [RefTags(f'r{i}', 'Eileen', a, o, s, e) for i, (a, s, o, e) in enumerate(twenty_references())]
    picks = pick_references(refs, framing='close-up', outfits={'Eileen': 'parka'}, budget=13)
    chosen = [p for p in picks if p.chosen]
    assert len(chosen) == 4 and len(picks) == 20
    assert {(p.angle, p.shot, p.outfit) for p in chosen} == {
        ('front', 'head', 'parka'),
        ('three-quarter', 'head', 'parka'),
    }
    assert [p.angle for p in chosen][:3] == ['front', 'front', 'front']  # most relevant first
    assert 'current outfit "parka"' in chosen[0].reason and 'close-up wants front and three-quarter' in chosen[0].reason
    why = {(p.angle, p.shot, p.outfit): p.reason for p in picks if not p.chosen}
    assert 'not the current "parka"' in why[('front', 'head', 'flight suit')]
    assert 'back view does not fit a close-up' in why[('back', 'head', 'parka')]
    assert 'full-body reference does not fit a close-up' in why[('front', 'full-body', 'parka')]


def test_the_cap_pins_and_exclusions() -> None:
    refs = [RefTags(f'r{i}', 'Eileen', a, o, s, e) for i, (a, s, o, e) in enumerate(twenty_references())]
    picks = pick_references(refs, framing='close-up', outfits={'Eileen': 'parka'}, budget=2)
    assert [p.asset_id for p in picks if p.chosen] == ['r8', 'r18']  # the two best front heads in the parka
    assert any('takes only 2' in p.reason for p in picks)
    refs[9] = RefTags('r9', 'Eileen', 'front', 'parka', 'full-body', '', 'pin')
    refs[8] = RefTags('r8', 'Eileen', 'front', 'parka', 'head', '', 'exclude')
    picks = {p.asset_id: p for p in pick_references(refs, framing='close-up', outfits={'Eileen': 'parka'}, budget=2)}
    assert picks['r9'].chosen and picks['r9'].reason.startswith('pinned by the artist')
    assert not picks['r8'].chosen and picks['r8'].reason == 'excluded by the artist'
    assert [p for p in picks.values() if p.chosen][-1:] and sum(p.chosen for p in picks.values()) == 2


def test_two_characters_share_the_cap_and_nothing_fitting_still_sends_one() -> None:
    refs = [RefTags('g1', 'Grace', 'back', 'uniform', 'head'), RefTags('g2', 'Grace', 'back', 'uniform', 'full-body')]
    refs += [RefTags(f'e{i}', 'Eileen', 'front', '', 'head') for i in range(5)]
    picks = pick_references(refs, framing='close-up', outfits={'Grace': 'uniform', 'Eileen': None}, budget=3)
    chosen = [p for p in picks if p.chosen]
    assert [p.character for p in chosen].count('Grace') == 1 and len(chosen) == 3
    assert 'nothing fits better' in next(p.reason for p in chosen if p.character == 'Grace')
    uncapped = pick_references(refs, framing='medium', outfits={}, budget=None)
    assert sum(p.chosen for p in uncapped if p.character == 'Eileen') == 4  # at most four per character


def test_input_caps_come_from_the_catalogue_and_the_workflow() -> None:
    assert input_cap('openai', 'gpt-image-2').total == 16
    default = input_cap('comfyui')
    assert (default.total, default.character_budget(1)) == (1, 0)  # the default workflow takes the scene only
    graph = {'1': {'inputs': {'a': '{{image_0}}', 'b': '{{image_3}}'}}}
    assert input_cap('comfyui', options={'workflow': graph}).character_budget(2) == 2
    assert input_cap('local').character_budget(99) is None


def test_a_close_up_plan_with_twenty_references_within_the_openai_cap(sessions, store, demo) -> None:
    with sessions() as s:
        eileen = characters.find_character(s, demo.id, 'Eileen')
        for i, (angle, shot, outfit, expression) in enumerate(twenty_references()):
            asset, _ = store.ingest(
                s, demo, png_bytes((i * 12, 90, 200 - i * 9)), name=f'e{i}.png', kind=AssetKind.character
            )
            data = parse(
                CharacterReferenceCreate,
                asset_id=asset.id,
                angle=angle,
                shot=shot,
                outfit=outfit,
                expression=expression,
            )
            characters.add_reference(s, demo.id, eileen.id, data)
        pad = s.exec(select(Scene).where(Scene.project_id == demo.id, Scene.name == 'Launch pad')).one()
        cont = {**pad.continuity, 'framing': 'close-up'}
        scenes.update_scene(s, demo.id, pad.id, parse(SceneUpdate, continuity=cont))
        event = parse(ContinuityEventCreate, scene='1.1', character='Eileen', field='outfit', value='parka')
        ledger.add_event(s, demo.id, event)
        plan = plan_run(
            s,
            demo,
            RunRequest(stage=Stage.character, scene_ids=[pad.id], candidates=1),
            estimate=lambda job: 0.0,
            offline=False,
            spent_usd=0.0,
            input_cap=input_cap('openai', 'gpt-image-2'),
        )
    (job,) = plan.jobs
    chosen = [p for p in job.references if p.chosen]
    assert len(job.inputs) <= 16 and len(job.references) == 22  # 20 new and the demo's two
    assert {(p.angle, p.shot, p.outfit) for p in chosen} == {
        ('front', 'head', 'parka'),
        ('three-quarter', 'head', 'parka'),
    }
    assert [i.role for i in job.inputs].count('character') == len(chosen) == 4
    assert job.extras['references']['cap'] == 'gpt-image-2 takes at most 16 input images (model catalogue)'
    assert 'wearing' not in job.prompt and 'outfit: parka' in job.prompt
