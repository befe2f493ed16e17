"""`kroma worker`: work the shared queue without the UI (see app/worker.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_common import guarded
from app.logging import configure_logging
from app.settings import get_settings
from app.wiring import build_deps
from app.worker import QUEUES, Worker, WorkerOptions, parse_list, serve
from models.base import STAGE_ORDER
from services.errors import Invalid


def register(cli: typer.Typer) -> None:
    cli.command('worker')(worker)


@guarded
def worker(
    concurrency: Annotated[
        int, typer.Option(help='Provider calls this worker sends at once per account (the account limit still holds).')
    ] = 4,
    stages: Annotated[
        str | None, typer.Option(help='Only runs of these stages, comma-separated (style,time,weather,character).')
    ] = None,
    queues: Annotated[str, typer.Option(help='Which queues to work: runs, instructions (comma-separated).')] = ','.join(
        QUEUES
    ),
) -> None:
    """Run queued jobs (runs and confirmed instructions) from the shared database until stopped (Ctrl-C/SIGTERM)."""
    if not 1 <= concurrency <= 64:
        raise Invalid('--concurrency must be a whole number from 1 to 64.', code='invalid_concurrency')
    options = WorkerOptions(
        concurrency=concurrency,
        stages=parse_list(stages, [s.value for s in STAGE_ORDER], 'stages'),
        queues=parse_list(queues, QUEUES, 'queues') or QUEUES,
    )
    settings = get_settings()
    configure_logging(settings.data_dir, settings.log_level)
    work = Worker(build_deps(settings), options)
    typer.echo(f'ready: {work.describe()}', err=False)
    serve(work)
    typer.echo('stopped')
