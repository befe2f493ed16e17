"""`kroma run`: plan or start a staged run; without a studio the CLI process executes it with the same queue."""

from __future__ import annotations

import asyncio
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from app.cli_common import deps_for_cli, guarded
from app.jobs import run_executor
from models.base import Stage, WorkState
from services.deps import Deps
from services.errors import Invalid
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.references import scenes
from services.runs import control as runs
from services.runs import queue as run_queue
from services.runs import status as run_status
from services.runs.plan import RunRequest


class RunGroup(TyperGroup):
    """`kroma run PROJECT ...` starts a run, while `kroma run resume|cancel RUN_ID` act on one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ('--help', '-h'):
            args = ['start', *args]
        return super().parse_args(ctx, args)


run_cli = typer.Typer(
    cls=RunGroup,
    help='Plan or start a run: kroma run PROJECT --stage style [--mode run]; resume; cancel.',
    no_args_is_help=True,
)
TERMINAL = {
    WorkState.done.value,
    WorkState.failed.value,
    WorkState.canceled.value,
    WorkState.interrupted.value,
    WorkState.planned.value,
}


def _execute(deps: Deps, project_id: str, run_id: str, wait: bool) -> str:
    """Work on the run here (claims are atomic, so a running studio can share it), printing progress as it goes,
    then why whatever failed failed."""
    executor = run_executor(deps)

    async def go() -> None:
        task = asyncio.create_task(executor.drain(run_id=run_id))
        last = ''
        while True:
            with deps.sessions() as s:
                p = run_status.run_progress(s, project_id, run_id)
            line = f'{p.run.status.value} {p.run.done}/{p.run.total} done, {p.run.failed} failed'
            if line != last:
                typer.echo(line)
                last = line
            if task.done() and (not wait or p.run.status.value in TERMINAL):
                task.result()
                return
            await asyncio.sleep(0.5)

    asyncio.run(go())
    with deps.sessions() as s:
        progress = run_status.run_progress(s, project_id, run_id)
    for job in progress.jobs:
        for reason in dict.fromkeys(job.errors):  # one line per distinct reason
            count = job.errors.count(reason)
            typer.echo(f'  {job.scene}: {count} failed: {reason}' if count > 1 else f'  {job.scene}: failed: {reason}')
    if progress.spent_usd:
        maybe = f' (${progress.maybe_billed_usd:.2f} maybe billed)' if progress.maybe_billed_usd else ''
        typer.echo(f'  spent ${progress.spent_usd:.2f}{maybe}')
    return progress.run.status.value


@run_cli.command('start')
@guarded
def run(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    stage: Annotated[Stage, typer.Option(help='style, time, weather or character.')] = Stage.style,
    scenes_: Annotated[str, typer.Option('--scenes', help='"all" or scene names separated by commas.')] = 'all',
    candidates: Annotated[int, typer.Option(help='Candidates per scene (1–8).')] = 3,
    provider: Annotated[str | None, typer.Option(help='Provider account name (default: the offline renderer).')] = None,
    mode: Annotated[str, typer.Option(help='dry (plan only) or run.')] = 'dry',
    confirm_spend: Annotated[bool, typer.Option('--confirm-spend', help='Confirm the spend of a paid run.')] = False,
    time_: Annotated[
        str | None,
        typer.Option('--time', help="day, dusk or night for every scene (time stage); default: each scene's own."),
    ] = None,
    weather: Annotated[
        str | None,
        typer.Option(help="clear, rain, fog or snow for every scene (weather stage); default: each scene's own."),
    ] = None,
    wait: Annotated[bool, typer.Option('--wait', help='Wait until the whole run has finished.')] = False,
) -> None:
    """Plan (dry, the default) or start a run: prints the run id first, then progress."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        scene_ids = None
        if scenes_ != 'all':
            by_name = {sc.name.lower(): sc.id for sc in scenes.list_scenes(s, proj.id)}
            wanted = [n.strip() for n in scenes_.split(',') if n.strip()]
            missing = [n for n in wanted if n.lower() not in by_name]
            if missing:
                raise Invalid(f'No scene named "{missing[0]}" in {project}.')
            scene_ids = [by_name[n.lower()] for n in wanted]
        account_id = provider_accounts.find_by_name(s, provider, project_id=proj.id).id if provider else None
        req = RunRequest(
            stage=stage,
            scene_ids=scene_ids,
            candidates=candidates,
            account_id=account_id,
            mode=mode,
            confirm_spend=confirm_spend,
            time=time_,
            weather=weather,
        )
        started = runs.start(s, proj, req, secrets=deps.secrets, project_root=deps.store.root(proj))
    typer.echo(started.run_id)
    plan = started.plan
    for job in plan.jobs:
        typer.echo(
            f'  {job.scene_name}: '
            + (f'blocked: {job.blocked}' if job.blocked else f'{len(job.inputs)} inputs, ${job.cost_usd:.2f}')
        )
        for pick in job.references:  # which character references go with the job, and why (#22)
            typer.echo(f'    {"+" if pick.chosen else "-"} {pick.character} {pick.asset_id[:8]}: {pick.reason}')
    held = f' (${plan.reserved_usd:.2f} reserved by other runs)' if plan.reserving_runs else ''
    typer.echo(f'  total ${plan.total_cost_usd:.2f}, budget left ${plan.remaining_budget_usd:.2f}{held}')
    if mode == 'run':
        status = _execute(deps, proj.id, started.run_id, wait)
        if status in (WorkState.failed.value, WorkState.interrupted.value):
            raise typer.Exit(1)


@run_cli.command('resume')
@guarded
def resume(run_id: str, wait: Annotated[bool, typer.Option('--wait')] = False) -> None:
    """Run only what is unfinished; finished candidates are never generated again."""
    deps = deps_for_cli()
    runs.recover(deps.sessions)  # a killed `kroma run` of this machine, or a worker whose lease ran out
    with deps.sessions() as s:
        r = run_queue.get_run_any(s, run_id)
        n = run_queue.requeue(s, r.project_id, run_id)
    typer.echo(f'{run_id}: {n} candidate(s) queued')
    if _execute(deps, r.project_id, run_id, wait) in (WorkState.failed.value, WorkState.interrupted.value):
        raise typer.Exit(1)


@run_cli.command('cancel')
@guarded
def cancel(run_id: str) -> None:
    """Stop after the calls in flight; keep what finished."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        r = run_queue.get_run_any(s, run_id)
        runs.cancel(s, projects.get_project_by_id(s, r.project_id), run_id, store=deps.store)
    typer.echo(f'{run_id}: canceled')


def register(cli: typer.Typer) -> None:
    cli.add_typer(run_cli, name='run')
