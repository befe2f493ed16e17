"""`kroma continuity` on the demo: add, list, state with sources, remove, bible versions and diffs, picks."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from app import cli_continuity
from models.references import CharacterUpdate
from services.deps import Deps
from services.projects import projects
from services.projects.demo import ensure_demo
from services.references import characters
from tests.app.test_cli_references import kroma  # noqa: F401


def invoke(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    cli_continuity.register(app)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_record_a_change_and_read_the_state_it_gives(kroma: Deps) -> None:  # noqa: F811
    ensure_demo(kroma.sessions, kroma.store)
    code, out, err = invoke('continuity', 'add', 'demo', '1.2', 'time', 'night', '--note', 'the storm')
    assert code == 0, err
    event_id, label = out.strip().split('\t')
    assert label == 'chapter 1, scene 2 (Café table): time of day = night'
    code, out, _ = invoke('continuity', 'add', 'demo', 'Café table', 'outfit', 'raincoat', '--character', 'grace')
    assert code == 0 and out.strip().endswith('Grace outfit = raincoat')
    code, out, _ = invoke('continuity', 'list', 'demo')
    assert code == 0 and len(out.splitlines()) == 2 and out.splitlines()[0].endswith('\tthe storm')
    code, out, _ = invoke('continuity', 'state', 'demo', 'chapter 1 scene 2')
    assert code == 0
    assert '  time: night\t← chapter 1, scene 2 (Café table): time of day = night' in out
    assert "  weather: clear\t← chapter 1, scene 2 (Café table): the scene's own weather" in out
    assert '  Grace outfit: raincoat\t← chapter 1, scene 2 (Café table): Grace outfit = raincoat' in out
    code, out, _ = invoke('continuity', 'state', 'demo', '1.3', '--json')
    state = json.loads(out)
    assert (
        state['fields']['time']['source']['kind'] == 'scene'
        and state['characters']['Grace']['outfit']['value'] == 'raincoat'
    )
    assert invoke('continuity', 'remove', 'demo', event_id)[0] == 0
    assert len(invoke('continuity', 'list', 'demo')[1].splitlines()) == 1


def test_bad_input_is_one_line_and_exit_1(kroma: Deps) -> None:  # noqa: F811
    ensure_demo(kroma.sessions, kroma.store)
    for args, message in (
        (('add', 'demo', '1.2', 'time', 'noon'), 'time must be one of day, dusk, night.'),
        (('add', 'demo', '1.9', 'time', 'night'), 'Chapter 1 has 3 scene(s); there is no scene 9.'),
        (('add', 'demo', '1.2', 'mood', 'grim'), 'Field: must be one of'),
        (('add', 'demo', '1.2', 'outfit', 'coat'), 'outfit belongs to a character: say whose.'),
        (('remove', 'demo', 'nope'), 'No continuity event nope in this project'),
        (('state', 'nowhere', '1.1'), 'No project'),
        (('pick', 'demo', 'Grace', 'nope', 'sometimes'), 'Choice must be one of auto, pin, exclude'),
    ):
        code, out, err = invoke('continuity', *args)
        assert code == 1 and out == '' and err.startswith('error: ') and message in err, (args, err)
        assert len(err.strip().splitlines()) == 1


def test_versions_diff_and_pick(kroma: Deps) -> None:  # noqa: F811
    ensure_demo(kroma.sessions, kroma.store)
    with kroma.sessions() as s:
        pid = projects.get_project(s, 'demo').id
        grace = characters.find_character(s, pid, 'Grace')
        characters.update_character(s, pid, grace.id, CharacterUpdate(bible='Now with a cane.'))
    code, out, _ = invoke('continuity', 'versions', 'demo', 'Grace')
    assert code == 0 and [line.split('\t')[0] for line in out.splitlines()] == ['v2', 'v1']
    code, out, _ = invoke('continuity', 'versions', 'demo', 'Grace', '--diff', '1', '2')
    assert code == 0 and out.startswith('bible: A naval officer') and out.strip().endswith('→ Now with a cane.')
    code, out, _ = invoke('continuity', 'pick', 'demo', 'Grace', grace.reference_asset_ids[0], 'exclude')
    assert code == 0
    with kroma.sessions() as s:
        refs = {r.asset_id: r.choice for r in characters.list_references(s, pid, grace.id)}
    assert refs[grace.reference_asset_ids[0]] == 'exclude'
    assert invoke('continuity', 'versions', 'demo', 'Grace')[1].startswith('v3')
