"""`kroma qa compare`: score any two image files outside runs, for artists and scripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import guarded
from services.qa.compare import compare_files

qa_cli = typer.Typer(help='Measure images: identity, style and composition.', no_args_is_help=True)


def contract_row(metric: str, row: dict) -> dict:
    """The stable JSON of one metric: value, verdict, threshold, detail; identity adds why it is unverified."""
    out = {k: row.get(k) for k in ('value', 'verdict', 'threshold')}
    out['detail'] = row.get('detail', '')
    if metric == 'identity':
        out['reason'] = row.get('reason') if row.get('verdict') == 'unverified' else None
        if 'characters' in row:
            first = next(iter(row['characters'].values()), {})
            if first.get('pass_max') is not None:
                out['band'] = {'pass_max': first['pass_max'], 'fail_above': first['fail_above']}
    return out


@qa_cli.command('compare')
@guarded
def compare(
    reference: Path,
    candidate: Path,
    metric: Annotated[str, typer.Option(help='identity, style, composition or all.')] = 'all',
    as_json: Annotated[bool, typer.Option('--json', help='Print one JSON object.')] = False,
) -> None:
    """Compare CANDIDATE with REFERENCE; per metric its value, verdict and threshold."""
    result = compare_files(reference, candidate, metric)
    if as_json:
        typer.echo(
            json.dumps(
                {k: contract_row(k, v) for k, v in result.items()},
                sort_keys=True,
            )
        )
        return
    for name, row in result.items():
        value = row.get('value')
        shown = '—' if value is None else f'{value:.3f}'
        typer.echo(
            f'{name:12} {shown:>7}  {row.get("verdict"):10} threshold {row.get("threshold")}  {row.get("detail", "")}'
        )


def register(cli: typer.Typer) -> None:
    cli.add_typer(qa_cli, name='qa')
