"""`kroma continuity`: the ledger's events, each scene's derived state, bible versions and reference picks."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.cli_common import deps_for_cli, guarded
from models.continuity import FIELDS, OPS, ContinuityEventCreate
from models.references import REFERENCE_CHOICES
from services.errors import Invalid, parse
from services.projects import projects
from services.references import character_versions, characters, ledger, ledger_state

continuity_cli = typer.Typer(
    help='The continuity ledger: changes written once in story order, and the state each scene derives.',
    no_args_is_help=True,
)
Project = Annotated[str, typer.Argument(help='Project slug.')]
Scene = Annotated[str, typer.Argument(help='Scene name, id, or chapter.position like 1.2.')]


@continuity_cli.command('list')
@guarded
def list_events(project: Project, scene: Annotated[str | None, typer.Option(help='Only this scene.')] = None) -> None:
    """Every event in story order: id, place, change and note."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        pid = projects.get_project(s, project).id
        scene_id = ledger.resolve_scene(s, pid, scene).id if scene else None
        rows = ledger.list_events(s, pid, scene_id=scene_id)
    for e in rows:
        typer.echo(f'{e.id}\t{e.label}' + (f'\t{e.note}' if e.note else ''))
    if not rows:
        typer.echo('no events yet')


@continuity_cli.command('add')
@guarded
def add_event(
    project: Project,
    scene: Scene,
    field: Annotated[str, typer.Argument(help=f'One of {", ".join(FIELDS)}.')],
    value: Annotated[list[str] | None, typer.Argument(help='The value (several for props, marks, held).')] = None,
    character: Annotated[str | None, typer.Option(help='Whose outfit, marks or held objects.')] = None,
    panel: Annotated[int | None, typer.Option(help='From this panel of the scene on.')] = None,
    op: Annotated[str, typer.Option(help=f'One of {", ".join(OPS)}.')] = 'set',
    note: Annotated[str, typer.Option(help='Why, in a few words.')] = '',
) -> None:
    """Record a change: `kroma continuity add demo 1.2 time night`, `... 1.2 outfit raincoat --character Grace`."""
    data = parse(
        ContinuityEventCreate,
        scene=scene,
        field=field,
        value=value or [],
        character=character,
        panel=panel,
        op=op,
        note=note,
    )
    deps = deps_for_cli()
    with deps.sessions() as s:
        row = ledger.add_event(s, projects.get_project(s, project).id, data)
    typer.echo(f'{row.id}\t{row.label}')


@continuity_cli.command('remove')
@guarded
def remove_event(project: Project, event_id: Annotated[str, typer.Argument(help='The event id (from list).')]) -> None:
    """Remove one event; the state falls back to what held before it."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        ledger.remove_event(s, projects.get_project(s, project).id, event_id)
    typer.echo(f'removed {event_id}')


@continuity_cli.command('state')
@guarded
def state(
    project: Project,
    scene: Scene,
    panel: Annotated[int | None, typer.Option(help='The state from this panel on.')] = None,
    as_json: Annotated[bool, typer.Option('--json', help='Print the state as JSON.')] = False,
) -> None:
    """What must hold in a scene, each value with where it came from (an event, the scene, the bible)."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        pid = projects.get_project(s, project).id
        derived = ledger_state.scene_state(s, pid, ledger.resolve_scene(s, pid, scene).id, panel)
    if as_json:
        typer.echo(json.dumps(derived.to_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(derived.where)
    values = [('', name, v) for name, v in derived.fields.items()]
    values += [(f'{who} ', name, v) for who, vals in derived.characters.items() for name, v in vals.items()]
    for who, name, v in values:
        if v.text:
            typer.echo(f'  {who}{name}: {v.text}\t← {v.source.label if v.source else "?"}')
    typer.echo(f'  present: {", ".join(derived.present) or "nobody"}')


@continuity_cli.command('versions')
@guarded
def versions(
    project: Project,
    character: Annotated[str, typer.Argument(help='Character name.')],
    diff: Annotated[tuple[int, int] | None, typer.Option(help='Show what changed between two versions.')] = None,
) -> None:
    """A character's bible versions (newest first), or with --diff A B what changed between two of them."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        pid = projects.get_project(s, project).id
        char = characters.find_character(s, pid, character)
        if diff:
            for c in character_versions.diff_versions(s, pid, char.id, *diff):
                typer.echo(f'{c.field}: {c.before} → {c.after}')
            return
        for v in character_versions.list_versions(s, pid, char.id):
            typer.echo(f'v{v.version}\t{v.created_at:%Y-%m-%d %H:%M}\t{v.reason}')


@continuity_cli.command('pick')
@guarded
def pick(
    project: Project,
    character: Annotated[str, typer.Argument(help='Character name.')],
    asset_id: Annotated[str, typer.Argument(help='The reference image id.')],
    choice: Annotated[str, typer.Argument(help='pin (always send), exclude (never) or auto.')],
) -> None:
    """Pin or exclude one of a character's references for the planner."""
    if choice not in REFERENCE_CHOICES:
        raise Invalid(f'Choice must be one of {", ".join(REFERENCE_CHOICES)}, not "{choice}".')
    deps = deps_for_cli()
    with deps.sessions() as s:
        pid = projects.get_project(s, project).id
        char = characters.find_character(s, pid, character)
        characters.pick_reference(s, pid, char.id, asset_id, choice)
    typer.echo(f'{character} {asset_id}: {choice}')


def register(cli: typer.Typer) -> None:
    cli.add_typer(continuity_cli, name='continuity')
