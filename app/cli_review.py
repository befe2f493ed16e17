"""`kroma review`: list a run's candidates with rank and QA, decide on them, approve the best per scene, ask for a retry."""

from __future__ import annotations

from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from app.cli_common import deps_for_cli, guarded
from services.errors import Invalid
from services.projects import projects
from services.references import scenes as scenes_svc
from services.review import best
from services.review import decisions as review
from services.review.decisions import CandidateView

StageOpt = Annotated[str | None, typer.Option(help='style, time, weather or character (default: the latest run).')]
NoteOpt = Annotated[str, typer.Option(help='A note kept with the decision.')]


class ReviewGroup(TyperGroup):
    """`kroma review PROJECT ...` lists, while `kroma review approve|reject|shortlist|approve-best|retry` act."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ('--help', '-h'):
            args = ['list', *args]
        return super().parse_args(ctx, args)


review_cli = typer.Typer(
    cls=ReviewGroup,
    help='Review candidates: kroma review PROJECT [--stage S] [--run ID]; approve|reject|shortlist IDS; '
    'approve-best PROJECT; retry PROJECT SCENE.',
    no_args_is_help=True,
)


def candidate_line(c: CandidateView) -> str:
    """Rank, id, verdict, score, review state, then each metric's verdict: one candidate per line."""
    rank = f'#{c.rank}' if c.rank else '#-'
    metrics = ' '.join(f'{name}={m.get("verdict", "?")}' for name, m in sorted(c.metrics.items()))
    asset = f'asset {c.asset.id}' if c.asset else f'no image: {c.error or "failed"}'
    return f'  {rank:<4}{c.id}  {c.verdict:<10} {c.score:.3f}  {c.review_state:<11} {asset}  {metrics}'.rstrip()


@review_cli.command('list')
@guarded
def review_list(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    stage: StageOpt = None,
    run: Annotated[str | None, typer.Option('--run', help='A run id (default: the newest run of the stage).')] = None,
) -> None:
    """Every scene of the run with its candidates, best first: rank, id, QA verdict, score, state and metrics."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        row, jobs = best.review_run(s, proj.id, stage=stage, run_id=run)
    typer.echo(f'run {row.id}  {row.stage.value}  {row.status.value}  {row.created_at:%Y-%m-%d %H:%M}')
    for job in jobs:
        note = f'  (retry asked: {job.retry_note})' if job.retry_note else ''
        typer.echo(f'{job.scene or "?"}  scene {job.scene_id}{note}')
        for c in job.candidates:
            typer.echo(candidate_line(c))


def _decide(candidate_ids: list[str], decision: str, note: str) -> None:
    deps = deps_for_cli()
    with deps.sessions() as s:  # one transaction: a bad id saves none of them
        views = []
        for ref in candidate_ids:
            cand = best.find_candidate(s, ref)
            views.append(review.decide(s, cand.project_id, cand.id, decision, note=note))
    for view in views:
        typer.echo(f'{view.review_state} {view.id}')


@review_cli.command('approve')
@guarded
def approve(candidate_ids: Annotated[list[str], typer.Argument(help='Candidate ids (or 6+ character prefixes).')],
            note: NoteOpt = '') -> None:  # fmt: skip
    """Approve: one winner per scene and stage, immutable, the next stage's input; all or none are saved."""
    _decide(candidate_ids, 'approve', note)


@review_cli.command('reject')
@guarded
def reject(candidate_ids: Annotated[list[str], typer.Argument(help='Candidate ids (or prefixes).')],
           note: NoteOpt = '') -> None:  # fmt: skip
    """Reject candidates (kept in the project, out of the way)."""
    _decide(candidate_ids, 'reject', note)


@review_cli.command('shortlist')
@guarded
def shortlist(candidate_ids: Annotated[list[str], typer.Argument(help='Candidate ids (or prefixes).')],
              note: NoteOpt = '') -> None:  # fmt: skip
    """Shortlist candidates to compare later."""
    _decide(candidate_ids, 'shortlist', note)


@review_cli.command('approve-best')
@guarded
def approve_best(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    stage: StageOpt = None,
    run: Annotated[str | None, typer.Option('--run', help="Only this run (default: each scene's newest).")] = None,
) -> None:
    """Per scene, approve the top-ranked candidate that passed QA (never a failing one); lists scenes left without."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        result = best.approve_best(s, proj.id, stage, run_id=run)
    for p in result.approved:
        typer.echo(
            f'approved {p.scene}: candidate {p.candidate_id} (#{p.rank}, {p.verdict}, {p.score:.3f}) asset {p.asset_id}'
        )
    for p in result.kept:
        typer.echo(f'kept     {p.scene}: already approved (asset {p.asset_id})')
    for u in result.unresolved:
        typer.echo(f'none     {u.scene}: {u.reason}')
    typer.echo(
        f'{result.stage}: {len(result.approved)} approved, {len(result.kept)} kept, '
        f'{len(result.unresolved)} without a passing candidate'
    )


@review_cli.command('retry')
@guarded
def retry(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    scene: Annotated[str, typer.Argument(help='Scene name or id.')],
    stage: Annotated[str, typer.Option(help='The stage to try again.')] = 'style',
    note: Annotated[str, typer.Option(help='What should change (required).')] = '',
) -> None:
    """Mark a scene's stage for another try; the note travels with it to the next run."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        found = [sc for sc in scenes_svc.list_scenes(s, proj.id) if scene == sc.id or sc.name.lower() == scene.lower()]
        if not found:
            raise Invalid(f'No scene named "{scene}" in {project}.', code='scene_missing')
        review.mark_retry(s, proj.id, found[0].id, best.stage_of(stage).value, note)
    typer.echo(f'retry asked for {found[0].name} ({stage}): {note.strip()}')


def register(cli: typer.Typer) -> None:
    """Add `kroma review` to the root CLI (app/cli.py)."""
    cli.add_typer(review_cli, name='review')
