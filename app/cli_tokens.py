"""`kroma token`: create (shown once), list and revoke API tokens from the machine that holds the database."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_common import deps_for_cli, guarded
from services.projects import projects
from services.security import audit
from services.security import tokens as auth

token_cli = typer.Typer(help='API tokens: create (shown once), list, revoke.', no_args_is_help=True)
ACTOR = 'cli'


def _when(value: object) -> str:
    return value.strftime('%Y-%m-%d %H:%M') if value else '-'  # type: ignore[attr-defined]


@token_cli.command('create')
@guarded
def create(
    project: Annotated[str | None, typer.Option('--project', help='Scope the token to this project slug.')] = None,
    expires: Annotated[str | None, typer.Option('--expires', help='30d, 12h, 2w, or an ISO date.')] = None,
    label: Annotated[str, typer.Option('--label', help='What the token is for.')] = '',
) -> None:
    """Create a token and print it once; only its SHA-256 is stored, so it cannot be shown again."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        project_id = projects.get_project(s, project).id if project else None
        issued = auth.create_token(
            s, project_id=project_id, expires_at=auth.parse_expiry(expires), label=label, creator=None
        )
        payload = {'token_id': issued.info.id, 'prefix': issued.info.prefix}
        audit.record(s, project_id=project_id, actor=ACTOR, action='token.create', payload=payload)
    typer.echo(issued.token)
    scope = f'project {project}' if project else 'all projects'
    typer.echo(f'id {issued.info.id} · {scope} · expires {_when(issued.info.expires_at)}', err=True)
    typer.echo('Store it now: it is never shown again.', err=True)


@token_cli.command('list')
@guarded
def list_() -> None:
    """Every token with its prefix, scope, expiry, last use and whether it still works; never a token value."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        rows = auth.list_tokens(s)
    if not rows:
        typer.echo('no tokens yet: kroma token create')
    for t in rows:
        state = 'active' if t.active else ('revoked' if t.revoked_at else 'expired')
        typer.echo(
            f'{t.id}\t{t.prefix}…\t{t.project_slug or "all projects"}\t{state}\t'
            f'expires {_when(t.expires_at)}\tlast used {_when(t.last_used_at)}\t{t.label}'
        )


@token_cli.command('revoke')
@guarded
def revoke(token_id: Annotated[str, typer.Argument(help='The id `kroma token list` shows.')]) -> None:
    """Revoke a token for good (idempotent); requests with it get 401 from now on."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        t = auth.revoke_token(s, token_id)
        audit.record(s, project_id=t.project_id, actor=ACTOR, action='token.revoke', payload={'token_id': t.id})
    typer.echo(f'revoked {t.prefix}…')


def register(cli: typer.Typer) -> None:
    cli.add_typer(token_cli, name='token')
