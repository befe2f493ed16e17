"""The issue's checks in the demo: the ledger fills every stage's prompt, QA flags an outfit that contradicts it in
review with the entry, and runs record the character bible version they used."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from models.base import Stage
from models.continuity import ContinuityEventCreate
from models.references import CharacterUpdate, Scene
from models.runs import Job
from services.errors import parse
from services.references import characters, ledger, ledger_state
from services.references.ledger_state import stage_target
from services.review import continuity as review_continuity
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest

RAINCOAT = 'chapter 1, scene 2 (Café table): Grace outfit = raincoat'


def drain(sessions, store) -> None:
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain())


def record_night_rain_and_a_raincoat(sessions, demo) -> str:
    with sessions() as s:
        for fields in (
            {'field': 'time', 'value': 'night'},
            {'field': 'weather', 'value': 'rain'},
            {'character': 'Grace', 'field': 'outfit', 'value': 'raincoat', 'note': 'she came in from the storm'},
        ):
            ledger.add_event(s, demo.id, parse(ContinuityEventCreate, scene='chapter 1, scene 2', **fields))
        grace = characters.find_character(s, demo.id, 'Grace')
        characters.update_character(s, demo.id, grace.id, CharacterUpdate(outfit_palettes={'raincoat': ['#f2c200']}))
        return s.exec(select(Scene).where(Scene.project_id == demo.id, Scene.name == 'Café table')).one().id


def run_stage(sessions, store, demo, stage: Stage, scene_id: str, *, approve: bool = True, **kw) -> str:
    with sessions() as s:
        run_id = runs.start(
            s, demo, RunRequest(stage=stage, candidates=1, mode='run', scene_ids=[scene_id], **kw)
        ).run_id
    drain(sessions, store)
    if approve:
        with sessions() as s:
            (job,) = review.run_review(s, demo.id, run_id)
            review.decide(s, demo.id, job.candidates[0].id, 'approve')
    return run_id


def test_the_next_plans_compose_prompts_with_the_recorded_state(sessions, demo) -> None:
    cafe = record_night_rain_and_a_raincoat(sessions, demo)
    with sessions() as s:
        state = ledger_state.scene_state(s, demo.id, cafe)
        prompts = {}
        for stage in Stage:
            target = {'time': stage_target(state, stage)} if stage == Stage.time else {}
            target |= {'weather': stage_target(state, stage)} if stage == Stage.weather else {}
            plan, _ = runs.plan(s, demo, RunRequest(stage=stage, scene_ids=[cafe], **target))
            prompts[stage] = plan.jobs[0].prompt
        launch = s.exec(select(Scene).where(Scene.project_id == demo.id, Scene.name == 'Launch pad')).one()
        before, _ = runs.plan(s, demo, RunRequest(stage=Stage.style, scene_ids=[launch.id]))
    for stage, prompt in prompts.items():
        assert 'Continuity: time of day night; weather rain;' in prompt, stage
        assert 'Grace (outfit: raincoat)' in prompt, stage
    assert 'Change only the time of day to night.' in prompts[Stage.time]
    assert 'Change only the weather to rain.' in prompts[Stage.weather]
    assert 'Grace (A naval officer in her late seventies' in prompts[Stage.character]
    assert 'gold braid; outfit: raincoat)' in prompts[Stage.character]
    assert 'time of day day; weather clear' in before.jobs[0].prompt  # scene 1 comes before the change


def test_an_outfit_that_contradicts_the_ledger_is_flagged_in_review_with_its_entry(sessions, store, demo) -> None:
    cafe = record_night_rain_and_a_raincoat(sessions, demo)
    run_stage(sessions, store, demo, Stage.style, cafe)
    run_stage(sessions, store, demo, Stage.time, cafe, time='night')
    run_stage(sessions, store, demo, Stage.weather, cafe, weather='rain')
    placed = run_stage(sessions, store, demo, Stage.character, cafe, approve=False)
    with sessions() as s:
        jobs = review.run_review(s, demo.id, placed)
        notes = review_continuity.job_continuity(s, jobs)
        job_row = s.get(Job, jobs[0].id)
    (cand,) = jobs[0].candidates
    metric = cand.metrics['ledger']
    assert metric['verdict'] == 'warn' and cand.verdict in ('warn', 'fail')
    assert metric['extra']['contradictions'] == [RAINCOAT], metric['detail']
    checks = {c['item']: c['verdict'] for c in metric['extra']['checks']}
    assert checks == {'time': 'pass', 'weather': 'pass', 'outfit of Grace': 'warn'}
    (flag,) = notes[jobs[0].id].flags[cand.id]
    assert flag.entry == RAINCOAT and flag.text.startswith('outfit of Grace contradicts the ledger — chapter 1')
    assert '#f2c200' in flag.expected and notes[jobs[0].id].where == 'chapter 1, scene 2 (Café table)'
    assert (
        job_row.params['continuity']['characters']['Grace']['outfit']['source']['note'] == 'she came in from the storm'
    )


def test_a_run_records_the_bible_version_and_review_names_an_older_one(sessions, store, demo) -> None:
    with sessions() as s:
        cafe = s.exec(select(Scene).where(Scene.project_id == demo.id, Scene.name == 'Café table')).one().id
    run_stage(sessions, store, demo, Stage.style, cafe)
    first = run_stage(sessions, store, demo, Stage.character, cafe, approve=False)
    with sessions() as s:
        grace = characters.find_character(s, demo.id, 'Grace')
        assert grace.version == 1
        edited = characters.update_character(s, demo.id, grace.id, CharacterUpdate(bible='Now with a cane.'))
        assert edited.version == 2
    second = run_stage(sessions, store, demo, Stage.character, cafe, approve=False)
    with sessions() as s:
        old = review_continuity.job_continuity(s, review.run_review(s, demo.id, first))
        new = review_continuity.job_continuity(s, review.run_review(s, demo.id, second))
        params = s.exec(select(Job.params).where(Job.run_id == second)).one()
    assert params['character_versions'] == {'Grace': {'id': grace.id, 'version': 2}}
    ((old_note,),) = [n.bible for n in old.values()]
    ((new_note,),) = [n.bible for n in new.values()]
    assert old_note.older and old_note.text == "made with Grace's bible v1; it is now v2"
    assert not new_note.older and new_note.text == "Grace's bible v2 (current)"
