"""`kroma token create|list|revoke`: printed once, stored hashed, scoped, revocable, one-line failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlmodel import select
from typer.testing import CliRunner

from app import cli_tokens
from app import settings as app_settings
from app.wiring import build_deps
from models.ops import ApiToken, AuditEvent
from models.project import ProjectCreate
from services.errors import Unauthorized
from services.projects import projects
from services.security import tokens as auth
from services.security.tokens import TOKEN_RE


def kroma(*args: str, ok: bool = True) -> tuple[str, str]:
    cli = typer.Typer()
    cli_tokens.register(cli)
    result = CliRunner().invoke(cli, ['token', *args])
    assert (result.exit_code == 0) is ok, result.output
    return result.stdout, result.stderr


def test_create_list_revoke(home: Path) -> None:
    deps = build_deps(app_settings.get_settings())
    with deps.sessions() as s:
        projects.create_project(s, ProjectCreate(slug='saga', name='Saga'), data_dir=deps.data_dir)
    out, err = kroma('create', '--project', 'saga', '--expires', '30d', '--label', 'ci')
    token = out.strip()
    assert TOKEN_RE.match(token) and 'never shown again' in err
    with deps.sessions() as s:
        row = s.exec(select(ApiToken)).one()
        assert row.token_hash == auth.hash_token(token) and token not in (row.token_hash, row.prefix)
        assert auth.resolve_token(s, token).project_slug == 'saga'
    listed, _ = kroma('list')
    assert row.id in listed and 'saga' in listed and 'active' in listed and token not in listed
    out, _ = kroma('revoke', row.id)
    assert 'revoked' in out
    assert 'revoked' in kroma('list')[0]
    with deps.sessions() as s, pytest.raises(Unauthorized):
        auth.resolve_token(s, token)
    with deps.sessions() as s:
        actions = [(e.actor, e.action) for e in s.exec(select(AuditEvent)).all()]
    assert ('cli', 'token.create') in actions and ('cli', 'token.revoke') in actions


def last_line(err: str) -> str:
    """The CLI's own message is the last stderr line (a first run may log that it created the master key)."""
    return err.strip().splitlines()[-1]


def test_failures_are_one_line(home: Path) -> None:
    _, err = kroma('create', '--project', 'nope', ok=False)
    assert last_line(err) == 'error: No project "nope".'
    _, err = kroma('create', '--expires', 'someday', ok=False)
    assert last_line(err).startswith('error: Expiry "someday"')
    _, err = kroma('revoke', 'missing', ok=False)
    assert last_line(err) == 'error: No such token.'
