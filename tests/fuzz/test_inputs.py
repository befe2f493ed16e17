"""Generated bad input for the bootstrap importer, image uploads and the CLI: each case ends in success or a typed
error, with no traceback and nothing half-written (row counts and files compared before and after)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from models.db import SessionFactory
from models.project import ProjectCreate, ProjectRead
from services.bootstrap.importer import import_answer
from services.errors import KromaError
from services.files import validate_image
from services.projects import projects
from services.projects.assets import AssetStore
from tests.fuzz.state import snapshot
from tests.services.bootstrap.test_importer import ANSWER

EXAMPLES = int(os.environ.get('KROMA_FUZZ_EXAMPLES', '5')) * 12
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def project(sessions: SessionFactory, data_dir: Path) -> ProjectRead:
    with sessions() as s:
        return projects.create_project(s, ProjectCreate(slug='fuzz', name='Fuzz'), data_dir=data_dir)


def seed_images() -> list[bytes]:
    out = []
    for fmt, mode in (('PNG', 'RGBA'), ('JPEG', 'RGB'), ('WEBP', 'RGB')):
        buf = io.BytesIO()
        Image.effect_noise((48, 40), 40).convert(mode).save(buf, fmt)
        out.append(buf.getvalue())
    return out


SEEDS = seed_images()


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    """A real PNG, JPEG or WebP with bytes flipped, cut, inserted or a header field rewritten."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(['flip', 'cut', 'insert', 'header']))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == 'flip' and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == 'cut':
            data = data[:pos]
        elif kind == 'insert':
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif kind == 'header' and len(data) > 24:
            data[16:24] = draw(st.binary(min_size=8, max_size=8))  # PNG width/height live here
    return bytes(data)


@FUZZ
@given(data=mutated_image())
def test_image_validation_accepts_or_refuses_with_a_reason(data: bytes) -> None:
    try:
        info = validate_image(data, name='x.png')
    except KromaError as e:
        assert e.user_message.startswith('x.png: ')
    else:
        assert info.width > 0 and info.height > 0


def test_a_refused_upload_writes_nothing(sessions: SessionFactory, engine: Engine, data_dir: Path, project) -> None:
    store = AssetStore(data_dir)

    @FUZZ
    @given(batch=st.lists(mutated_image(), min_size=1, max_size=4))
    def check(batch: list[bytes]) -> None:
        audited = frozenset({'auditevent'})  # the upload records its own outcome, refusals included
        before = snapshot(engine, data_dir, ignore_tables=audited)
        with sessions() as s:
            results = store.upload_many(s, project, [(f'f{i}.png', b) for i, b in enumerate(batch)])
        if all(r.status == 'refused' for r in results):
            assert snapshot(engine, data_dir, ignore_tables=audited).changes_from(before) == []

    check()


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@st.composite
def bootstrap_answer(draw: st.DrawFn) -> dict | str:
    """A valid answer with parts replaced by generated values, or its text cut or prose-wrapped."""
    answer = json.loads(json.dumps(ANSWER))
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(answer)))
        value = answer[section]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            field = draw(st.sampled_from(sorted(value[0]) + ['unknown_field']))
            value[0][field] = draw(JSONISH)
        else:
            answer[section] = draw(JSONISH)
    if draw(st.booleans()):
        return answer
    text = 'Here you go:\n```json\n' + json.dumps(answer) + '\n```'
    return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text


def test_bootstrap_imports_or_refuses_and_a_refusal_writes_nothing(
    sessions: SessionFactory, engine: Engine, data_dir: Path, project
) -> None:
    @FUZZ
    @given(answer=bootstrap_answer())
    def check(answer: dict | str) -> None:
        before = snapshot(engine, data_dir)
        try:
            with sessions() as s:
                import_answer(s, project, answer, dry_run=False)
        except KromaError:
            assert snapshot(engine, data_dir).changes_from(before) == []

    check()


@st.composite
def cli_args(draw: st.DrawFn) -> list[str]:
    text = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'), max_size=60)
    word = st.one_of(text, st.integers(150, 12_000).map(lambda n: 'x' * n))  # limits + 1 and far beyond
    number = st.one_of(st.integers(-5, 10_000).map(str), word)
    return draw(st.sampled_from([
        st.tuples(st.just('project'), st.just('create'), word, st.just('--name'), word),
        st.tuples(st.just('run'), st.just('fuzz'), st.just('--stage'), word, st.just('--candidates'), number),
        st.tuples(st.just('export'), st.just('fuzz'), st.just('--format'), word, st.just('--chapter'), number),
        st.tuples(st.just('token'), st.just('create'), st.just('--expires'), word),
        st.tuples(st.just('upload'), st.just('fuzz'), word),
        st.tuples(st.just('qa'), st.just('compare'), word, word, st.just('--metric'), word),
        st.tuples(st.just('run'), st.just('resume'), word),
    ]).flatmap(lambda s: s).map(list))  # fmt: skip


def test_the_cli_answers_every_argument_with_an_exit_code_not_a_traceback(home: Path) -> None:
    from app.cli import cli

    runner = CliRunner()
    assert runner.invoke(cli, ['project', 'create', 'fuzz', '--name', 'Fuzz']).exit_code == 0

    @FUZZ
    @given(args=cli_args())
    def check(args: list[str]) -> None:
        result = runner.invoke(cli, args)
        assert result.exit_code in (0, 1, 2), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit | typer.Exit), (
            args,
            result.exception,
        )
        assert 'Traceback' not in result.output

    check()
