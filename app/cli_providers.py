"""`kroma provider|generate|secrets`: accounts and keys (J00/R02) and one-off generation (U01) from the shell."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli_common import deps_for_cli, fail, guarded
from models.base import ProviderKind
from models.provider import ProviderAccountCreate, ProviderAccountRead
from services.deps import Deps
from services.errors import Invalid, SecretError, parse
from services.files import atomic_write, validate_image
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.providers.base import GenerationRequest, InputImage
from services.providers.registry import build_provider
from services.security.key_recovery import account_names_by_secret, forget_lost_keys
from services.security.secrets import SecretStore

log = logging.getLogger(__name__)

provider_cli = typer.Typer(help='Provider accounts: add, list, test, set-key, delete.', no_args_is_help=True)
secrets_cli = typer.Typer(
    help='Encrypted secrets: key status and rotation to the current master key.', no_args_is_help=True
)
KEY_HELP = 'Read the API key from stdin (pipe it in); keys are never taken from the command line.'
ProjectOpt = Annotated[str | None, typer.Option('--project', help='Project slug (default: the global account).')]


def read_key_stdin() -> str:
    """Keys come from a pipe (or a hidden prompt on a terminal), so they never land in argv or shell history."""
    value = typer.prompt('API key', hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
    value = value.strip()
    if not value:
        raise Invalid('No key arrived on stdin; pipe it in, e.g. `kroma provider set-key NAME --key-stdin < key.txt`.')
    return value


def _store(deps: Deps) -> SecretStore:
    if deps.secrets is None:
        raise Invalid('The secrets store is not configured.')
    return deps.secrets


def _project_id(deps: Deps, slug: str | None) -> str | None:
    if not slug:
        return None
    with deps.sessions() as s:
        return projects.get_project(s, slug).id


def _health_line(health: dict[str, Any]) -> str:
    if not health:
        return 'not tested'
    return f'{"ok" if health.get("ok") else health.get("code", "failed")}: {health.get("message", "")}'


def _describe(a: ProviderAccountRead, scope: str) -> str:
    key = a.key_hint if a.has_key else ('-' if a.kind == ProviderKind.local else 'no key')
    options = ','.join(f'{k}={v}' for k, v in sorted(a.options.items()) if k != 'workflow') or '-'
    return '\t'.join(
        [a.name, a.kind.value, scope, a.base_url or '-', a.model or '-', options, key, _health_line(a.health)]
    )


@provider_cli.command('add')
@guarded
def add(
    name: str,
    kind: Annotated[ProviderKind, typer.Option(help='local, openai, comfyui (or removebg, photoroom).')],
    base_url: Annotated[str, typer.Option(help='API root (default: the provider default).')] = '',
    model: Annotated[str, typer.Option(help='Model or ComfyUI checkpoint (default: the provider default).')] = '',
    project: ProjectOpt = None,
    key_stdin: Annotated[bool, typer.Option('--key-stdin', help=KEY_HELP)] = False,
    concurrency: Annotated[int | None, typer.Option(help='Concurrent calls this account allows (1–32).')] = None,
    timeout: Annotated[float | None, typer.Option(help='Per-call timeout in seconds (1–900).')] = None,
) -> None:
    """Add a provider account; with --key-stdin its key is stored encrypted at once."""
    key = read_key_stdin() if key_stdin else None
    options: dict[str, Any] = {'concurrency': concurrency, 'timeout_s': timeout}
    data = parse(
        ProviderAccountCreate,
        name=name,
        kind=kind,
        base_url=base_url,
        model=model,
        options={k: v for k, v in options.items() if v is not None},
        api_key=key,
    )
    deps = deps_for_cli()
    with deps.sessions() as s:
        a = provider_accounts.create_account(
            s,
            data,
            project_id=_project_id(deps, project),
            secrets=deps.secrets,
            allow_link_local=deps.options.allow_link_local_urls,
        )
    typer.echo(f'added {a.name} ({a.kind.value})' + (f', key {a.key_hint}' if a.has_key else ''))


@provider_cli.command('list')
@guarded
def list_(project: ProjectOpt = None) -> None:
    """Accounts with their key hint (never the key) and last health; every project's unless --project is given."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        slugs = {p.project.id: p.project.slug for p in projects.list_projects(s, include_archived=True)}
        pid = projects.get_project(s, project).id if project else None
        wanted = [pid] if project else [None, *slugs]
        rows = [
            a
            for p in wanted
            for a in provider_accounts.list_accounts(s, project_id=p, secrets=deps.secrets)
            if a.project_id == p or (project and a.project_id is None)
        ]
    if not rows:
        typer.echo('no provider accounts (runs use the built-in offline renderer)')
    for a in rows:
        typer.echo(_describe(a, 'global' if a.project_id is None else slugs.get(a.project_id, a.project_id)))


@provider_cli.command('test')
@guarded
def test(name: str, project: ProjectOpt = None) -> None:
    """Run the account's health check and record it; exits 1 with the provider's exact reason when it fails."""
    deps = deps_for_cli()
    pid = _project_id(deps, project)
    with deps.sessions() as s:
        account_id = provider_accounts.find_by_name(s, name, project_id=pid).id
        config = provider_accounts.provider_config(s, account_id, secrets=deps.secrets)
    result = asyncio.run(build_provider(config).health())
    del config
    with deps.sessions() as s:
        health = {'ok': result.ok, 'message': result.message, 'code': result.code, 'latency_ms': result.latency_ms}
        provider_accounts.record_health(s, account_id, health)
    log.info('connection test for %s: %s', name, result.code)
    if not result.ok:
        fail(f'{name}: {result.message}')
    typer.echo(f'{name}: ok ({result.latency_ms:.0f} ms): {result.message}')


@provider_cli.command('set-key')
@guarded
def set_key(
    name: str,
    key_stdin: Annotated[bool, typer.Option('--key-stdin', help=KEY_HELP)] = False,
    project: ProjectOpt = None,
) -> None:
    """Enter or replace an account's key (R02); the old value is overwritten, the new one shown only as a hint."""
    if not key_stdin:
        raise Invalid('Pass --key-stdin and pipe the key in; keys are never taken from the command line.')
    key = read_key_stdin()
    deps = deps_for_cli()
    pid = _project_id(deps, project)
    with deps.sessions() as s:
        a = provider_accounts.find_by_name(s, name, project_id=pid)
        saved = provider_accounts.set_key(s, _store(deps), a.id, key)
    typer.echo(f'key for {saved.name} saved: {saved.key_hint}')


@provider_cli.command('delete')
@guarded
def delete(name: str, project: ProjectOpt = None) -> None:
    """Delete an account and its stored key."""
    deps = deps_for_cli()
    pid = _project_id(deps, project)
    with deps.sessions() as s:
        a = provider_accounts.find_by_name(s, name, project_id=pid)
        if pid and a.project_id != pid:
            raise Invalid(f'"{name}" is a global account; run without --project to delete it.')
        provider_accounts.delete_account(s, a.id, secrets=deps.secrets)
    typer.echo(f'deleted {name}')


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    w, sep, h = text.lower().partition('x')
    if not (sep and w.isdigit() and h.isdigit()):
        raise Invalid(f'--size must look like 1024x1536, not {text!r}.', code='size_invalid')
    return int(w), int(h)


def _inputs(paths: list[Path]) -> tuple[InputImage, ...]:
    """The first image is the scene, the rest are style references, as the provider contract expects."""
    out = []
    for i, path in enumerate(paths):
        try:
            data = path.read_bytes()
        except OSError as e:
            raise Invalid(f'Cannot read {path}: {e.strerror or e}.', code='input_unreadable') from e
        info = validate_image(data, name=path.name)
        out.append(InputImage(role='scene' if i == 0 else 'style', data=data, name=path.name, sha256=info.sha256))
    return tuple(out)


@guarded
def generate(
    provider: Annotated[str, typer.Option(help='Name of a global provider account.')],
    prompt: Annotated[str, typer.Option(help='What to make.')],
    out: Annotated[Path, typer.Option(help='Folder for the PNGs (created if missing).')],
    image: Annotated[
        list[Path] | None, typer.Option(help='Input image; the first is the scene, the rest style.')
    ] = None,
    size: Annotated[str | None, typer.Option(help='WxH, e.g. 1024x1536 (default: the provider default).')] = None,
    n: Annotated[int, typer.Option(help='How many images.')] = 1,
    seed: Annotated[int, typer.Option(help='Seed (the offline renderer honours it exactly).')] = 0,
) -> None:
    """Generate once with no project: checks each image as a run does, writes it atomically into OUT, prints its path."""
    inputs = _inputs(image or [])
    wanted = _size(size)
    request = GenerationRequest(prompt=prompt, inputs=inputs, n=n, seed=seed, **({'size': wanted} if wanted else {}))
    deps = deps_for_cli()
    with deps.sessions() as s:
        account_id = provider_accounts.find_by_name(s, provider).id
        config = provider_accounts.provider_config(s, account_id, secrets=deps.secrets)
    images = asyncio.run(build_provider(config).generate(request))
    del config
    stamp = datetime.now(UTC).strftime('%Y%m%d-%H%M%S')
    refused = []
    for i, img in enumerate(images):
        try:  # the same check a run makes before it keeps an image: real type, whole file, size and pixel limits
            info = validate_image(img.data, name=f'image {i + 1}')
        except Invalid as e:
            refused.append(e.user_message)
            continue
        path = out / f'{provider}-{stamp}-{img.seed}-{i + 1}.{info.ext}'
        atomic_write(path, img.data)
        log.info('generated %s (%s) with %s', path.name, info.sha256[:12], provider)
        typer.echo(str(path))
    if refused:
        raise Invalid('The provider returned an unusable image, not saved: ' + ' '.join(refused), code='image_unusable')


@secrets_cli.command('status')
@guarded
def secrets_status() -> None:
    """Rows per key ref and plaintext rows, so you know whether a rotation is due or complete."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        st = _store(deps).status(s)
    typer.echo(f'master key: {deps.key_file or "from KROMA_MASTER_KEY"} (key ref {st["current_key_ref"]})')
    typer.echo(f'secrets: {st["total"]} total, {st["encrypted"]} encrypted, {st["plaintext"]} plaintext')
    for r in st['key_refs']:
        state = 'current' if r['is_current'] else ('old' if r['configured'] else 'old, key not configured')
        typer.echo(f'  {r["key_ref"]}\t{r["count"]}\t{state}')


@secrets_cli.command('rotate')
@guarded
def secrets_rotate() -> None:
    """Check every secret, then re-encrypt the readable ones with the current master key (old keys in
    KROMA_MASTER_KEY_PREVIOUS); damaged or altered ones are named with what to do."""
    deps = deps_for_cli()
    try:
        result = _store(deps).rotate(deps.sessions)
    except SecretError as e:
        if e.code != 'secret_rotation_incomplete':
            raise
        with deps.sessions() as s:
            accounts = account_names_by_secret(s)
        for failure in e.details['failures']:
            name = accounts.get(failure['secret_id'])
            fix = f' Re-enter it: kroma provider set-key {name} --key-stdin' if name else ''
            typer.echo(f'  {failure["code"].removeprefix("secret_")}: {failure["message"]}{fix}')
        raise
    typer.echo(
        f'rotated {result["rotated"]} of {result["scanned"]} secret(s) '
        f'({result["plaintext_reencrypted"]} were plaintext); {result["skipped_current"]} already current'
    )


@secrets_cli.command('forget-lost-key')
@guarded
def secrets_forget_lost_key(
    confirm: Annotated[
        bool, typer.Option('--confirm', help='Yes: delete the secrets no configured key can read.')
    ] = False,
) -> None:
    """When the master key is lost for good: start a new key and delete the secrets only the lost key could read."""
    if not confirm:
        raise Invalid('This deletes the secrets encrypted with a lost master key; pass --confirm to go ahead.')
    deps = deps_for_cli(allow_new_master_key=True)
    with deps.sessions() as s:
        names = forget_lost_keys(s, _store(deps))
    if not names:
        typer.echo('no secret needs a lost key; nothing deleted')
    for name in names:
        typer.echo(f'{name}: key deleted; enter it again with kroma provider set-key {name} --key-stdin')


def register(cli: typer.Typer) -> None:
    cli.add_typer(provider_cli, name='provider')
    cli.add_typer(secrets_cli, name='secrets')
    cli.command('generate')(generate)
