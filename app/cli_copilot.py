"""`kroma copilot` and `kroma instructions`: ask in words, then list, confirm, cancel and work the instruction queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from sqlmodel import Session

from app.cli_common import deps_for_cli, guarded
from models.ops import Instruction
from services.copilot import chat as copilot
from services.copilot import instructions
from services.copilot.handlers import handler_table
from services.copilot.instructions import InstructionView
from services.projects import projects

copilot_cli = typer.Typer(
    help='Ask the copilot: kroma copilot ask PROJECT "style lock scenes 1 to 3".', no_args_is_help=True
)
instructions_cli = typer.Typer(help='The instruction queue: list, confirm, cancel, work.', no_args_is_help=True)


@copilot_cli.command('ask')
@guarded
def ask(
    project: str,
    text: str,
    chat: Annotated[str | None, typer.Option(help='Chat session id; a new one when left out.')] = None,
) -> None:
    """Post TEXT to PROJECT's copilot; prints the reply and the proposed instruction's id."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        p = projects.get_project(s, project)
        chat_id = chat or copilot.create_session(s, p.id, title='CLI').id
        posted = copilot.post_message(s, p, chat_id, text, secrets=deps.secrets)
    typer.echo(posted.reply.content)
    if posted.instruction is not None:
        typer.echo(f'instruction {posted.instruction.id} ({posted.instruction.state}); confirm with:')
        typer.echo(f'  kroma instructions confirm {project} {posted.instruction.id}')


@instructions_cli.command('list')
@guarded
def list_(project: str, state: Annotated[str | None, typer.Option(help='Only this state.')] = None) -> None:
    """One line per instruction, newest first."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        p = projects.get_project(s, project)
        rows = instructions.list_instructions(s, p.id, states=[state] if state else None)
    for r in rows:
        typer.echo(f'{r.id}  {r.state:21} {r.type:13} {r.objective}' + (f'  [{r.last_error}]' if r.last_error else ''))


def _decide(project: str, instruction_id: str, decide: Callable[[Session, str, str], InstructionView]) -> None:
    """Confirm and cancel differ only in the service call; both print the state the instruction is left in."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        p = projects.get_project(s, project)
        typer.echo(decide(s, p.id, instruction_id).state)


@instructions_cli.command('confirm')
@guarded
def confirm(project: str, instruction_id: str) -> None:
    _decide(project, instruction_id, instructions.confirm)


@instructions_cli.command('cancel')
@guarded
def cancel(project: str, instruction_id: str) -> None:
    _decide(project, instruction_id, instructions.cancel)


@instructions_cli.command('work')
@guarded
def work(limit: Annotated[int, typer.Option(help='At most this many instructions.')] = 10) -> None:
    """Execute queued instructions here (claims are atomic, so a running studio can share the queue)."""
    deps = deps_for_cli()
    table = handler_table(deps)
    for _ in range(limit):
        done = instructions.work_once(deps.sessions, table)
        if done is None:
            break
        with deps.sessions() as s:
            row = s.get(Instruction, done)
            typer.echo(f'{done}  {row.state.value}  {row.result.get("message") or row.last_error}')


def register(cli: typer.Typer) -> None:
    cli.add_typer(copilot_cli, name='copilot')
    cli.add_typer(instructions_cli, name='instructions')
