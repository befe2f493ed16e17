"""J07 on a project: bg → upscale → colour on approved assets, new linked assets, QA again, archive, sources untouched."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sqlmodel import select

from models.assets import Asset, QualityReport
from models.base import AssetKind, LinkRelation, ProviderKind, ReviewState, Stage
from models.project import ProjectCreate, ProjectUpdate
from models.provider import ProviderAccountCreate
from models.runs import Candidate, Job, Run
from services.errors import Conflict, Invalid
from services.files import sha256_file
from services.layout import chapters
from services.postprocess import archive
from services.postprocess.runs import (
    PostprocessRequest,
    PostprocessRunner,
    PostprocessSettings,
    colour_profiles,
    save_colour_profile,
    save_defaults,
)
from services.projects import projects
from services.projects.assets import lineage
from services.projects.demo import ensure_demo
from services.providers import accounts as provider_accounts
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from services.security.master_keys import KeyRing, MasterKey, generate_key
from services.security.secrets import SecretStore
from tests.fakes.removebg_server import FakeBackgroundServer


@pytest.fixture
def project(sessions, data_dir):  # noqa: ANN201
    with sessions() as s:
        return projects.create_project(s, ProjectCreate(slug='pp', name='PP'), data_dir=data_dir)


def drawing(size: int = 600) -> bytes:
    im = Image.new('RGB', (size, size), (235, 232, 225))
    d = ImageDraw.Draw(im)
    d.ellipse((size * 0.35, size * 0.1, size * 0.65, size * 0.4), fill=(240, 200, 170), outline=(15, 15, 15), width=4)
    d.polygon(
        [(size * 0.3, size * 0.42), (size * 0.7, size * 0.42), (size * 0.8, size), (size * 0.2, size)],
        fill=(190, 50, 40),
    )
    buf = io.BytesIO()
    im.save(buf, 'PNG')
    return buf.getvalue()


def approved(sessions, store, project, data: bytes, *, status: ReviewState = ReviewState.approved) -> str:
    with sessions() as s:
        asset, _ = store.ingest(
            s, project, data, name='panel.png', kind=AssetKind.candidate, stage='style', status=status
        )
        row = s.get(Asset, asset.id)
        row.immutable = status == ReviewState.approved
        s.add(row)
        return asset.id


def approved_demo_candidates(sessions, store) -> list[str]:
    """A style run on the demo with the offline renderer, then one approved winner per scene via review."""
    ensure_demo(sessions, store)
    with sessions() as s:
        demo = projects.get_project(s, 'demo')
        req = RunRequest(stage=Stage.style, candidates=1, mode='run', size=(512, 512))
        run_id = runs.start(s, demo, req).run_id
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))
    with sessions() as s:
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        for c in cands:
            review.decide(s, demo.id, c.id, 'approve')
        return [c.asset_id for c in cands]


def test_full_chain_on_three_approved_demo_images(sessions, store) -> None:
    sources = approved_demo_candidates(sessions, store)
    with sessions() as s:
        demo = projects.get_project(s, 'demo')
        before = {a: sha256_file(store.path_of(demo, s.get(Asset, a))) for a in sources}
        save_defaults(s, 'demo', PostprocessSettings(profile='cold_rain', upscale_method='lanczos'))
    seen: list[tuple[float, str]] = []
    result = PostprocessRunner(sessions, store).run(
        'demo', PostprocessRequest(stage='style'), on_progress=lambda f, m: seen.append((f, m))
    )
    assert not result.failures and len(result.outputs) == 6  # scene panels keep their background by default
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1][0] == 1.0
    assert {o.ops for o in result.outputs} == {('upscale',), ('upscale', 'color')}
    assert not any(o.archived for o in result.outputs)  # the defaults keep the work
    with sessions() as s:
        for o in result.outputs:  # a colour grade the artist chose is set aside before style is judged
            style = s.exec(select(QualityReport).where(QualityReport.asset_id == o.asset_id)).one().metrics['style']
            assert bool(style['extra'].get('relit')) == ('color' in o.ops), (o.ops, style)
        for source_id, final in result.finals().items():
            assert final.ops == ('upscale', 'color') and source_id in sources
            # walk the derived_from links back from the last output to the approved candidate
            chain, current = [], final.asset_id
            while ups := [p for p in lineage(s, demo.id, current)['parents'] if p['relation'] == 'derived_from']:
                chain.append(ups[0]['params']['op'])
                assert {'op', 'method', 'params', 'ms'} <= set(ups[0]['params'])
                current = ups[0]['asset_id']
            assert current == source_id and chain == ['color', 'upscale']
            root = s.get(Asset, current)
            cand = s.get(Candidate, root.meta['candidate_id'])
            job = s.get(Job, root.meta['job_id'])
            assert cand.asset_id == root.id and cand.job_id == job.id and job.run_id == root.meta['run_id']
            assert s.get(Run, job.run_id).stage == Stage.style and job.scene_id == root.scene_id
            out = s.get(Asset, final.asset_id)
            assert out.kind == AssetKind.derived and out.stage == 'style' and out.scene_id == root.scene_id
            assert (out.width, out.height) == (root.width * 2, root.height * 2)
            assert out.status == (ReviewState.archived if final.verdict == 'fail' else ReviewState.generated)
            with Image.open(store.path_of(demo, out)) as im:
                assert im.mode == 'RGB'  # the whole panel, background and all
            # sources untouched: same bytes, still approved and immutable
            assert sha256_file(store.path_of(demo, root)) == before[root.id] == root.sha256
            assert root.status == ReviewState.approved and root.immutable
        reports = s.exec(select(QualityReport).where(QualityReport.candidate_id.is_(None))).all()  # type: ignore[union-attr]
        assert {r.asset_id for r in reports} == {o.asset_id for o in result.outputs}
        colour_link = lineage(s, demo.id, next(iter(result.finals().values())).asset_id)['parents'][0]['params']
        assert colour_link['params']['profile'] == 'cold_rain' and colour_link['params']['settings']['b_gain'] == 1.05


def test_only_approved_assets_are_processed(sessions, store, project) -> None:
    pending = approved(sessions, store, project, drawing(), status=ReviewState.generated)
    runner = PostprocessRunner(sessions, store)
    with pytest.raises(Invalid, match='is not'):
        runner.run('pp', PostprocessRequest(asset_ids=[pending], steps='color'))
    with pytest.raises(Invalid, match='no approved assets'):
        runner.run('pp', PostprocessRequest(stage='time', steps='color'))
    with pytest.raises(Invalid, match='Unknown post-process step'):
        runner.run('pp', PostprocessRequest(stage='style', steps='sharpen'))
    with sessions() as s:
        assert s.exec(select(Asset).where(Asset.kind == AssetKind.derived)).all() == []


def test_user_profile_and_qa_failure_goes_to_the_archive(sessions, store, project) -> None:
    source = approved(sessions, store, project, drawing())
    with sessions() as s:
        save_colour_profile(s, 'pp', {'name': 'sepia-night', 'saturation': 0.4, 'b_gain': 0.9})
        with pytest.raises(Conflict, match='built-in'):
            save_colour_profile(s, 'pp', {'name': 'neutral'})
        with pytest.raises(Invalid, match="'contrast' must be between"):
            save_colour_profile(s, 'pp', {'name': 'bad', 'contrast': 110})
        projects.update_project(s, 'pp', ProjectUpdate(settings={'qa': {'min_width': 4096, 'min_height': 4096}}))
        assert 'sepia-night' in colour_profiles(projects.get_project(s, 'pp'))
    (out,) = (
        PostprocessRunner(sessions, store)
        .run('pp', PostprocessRequest(asset_ids=[source], steps=['colour'], profile='sepia-night'))
        .outputs
    )
    assert out.verdict == 'fail' and out.archived
    with sessions() as s:
        row = s.get(Asset, out.asset_id)
        assert row.status == ReviewState.archived and store.path_of(project, row).is_file()  # kept, never deleted
        link = lineage(s, project.id, out.asset_id)['parents'][0]
        assert (
            link['relation'] == LinkRelation.derived_from and link['params']['params']['settings']['saturation'] == 0.4
        )
        assert s.get(Asset, source).status == ReviewState.approved


def test_remote_cutout_only_with_a_stored_key(sessions, store, project) -> None:
    source = approved(sessions, store, project, drawing(300))
    secrets = SecretStore(KeyRing(current=MasterKey.from_bytes(generate_key())))
    runner = PostprocessRunner(sessions, store, secrets)
    with FakeBackgroundServer(valid_keys={'rb-key'}) as server:
        with sessions() as s:
            acc = provider_accounts.create_account(
                s, ProviderAccountCreate(name='cutouts', kind=ProviderKind.removebg, base_url=server.base_url)
            )
        (offline,) = runner.run('pp', PostprocessRequest(asset_ids=[source], steps='bg')).outputs
        assert offline.method == 'grabcut' and server.requests == []  # an account without a key is never called
        with sessions() as s:
            provider_accounts.set_key(s, secrets, acc.id, 'rb-key')
        (remote,) = runner.run('pp', PostprocessRequest(asset_ids=[source], steps='bg')).outputs
        assert remote.method == 'removebg' and len(server.requests) == 1
        server.fail_next(503)
        (fallback,) = runner.run('pp', PostprocessRequest(asset_ids=[source], steps='bg')).outputs
    assert fallback.method == 'grabcut'
    with sessions() as s:
        params = lineage(s, project.id, fallback.asset_id)['parents'][0]['params']['params']
        assert 'unavailable' in params['remote_error'] and 'rb-key' not in str(params)
        with Image.open(store.path_of(project, s.get(Asset, remote.asset_id))) as im:
            assert im.mode == 'RGBA' and im.getpixel((0, 0))[3] == 0


def test_a_cutout_asked_for_is_judged_on_what_it_keeps(sessions, store, project) -> None:
    source = approved(sessions, store, project, drawing())
    result = PostprocessRunner(sessions, store).run('pp', PostprocessRequest(asset_ids=[source], steps='bg,upscale'))
    assert [o.ops for o in result.outputs] == [('bg',), ('bg', 'upscale')]  # named by the artist: cut out
    with sessions() as s:
        for o in result.outputs:
            report = s.exec(select(QualityReport).where(QualityReport.asset_id == o.asset_id)).one()
            kept = report.metrics['cutout']
            assert kept['verdict'] == 'pass' and 0.1 < kept['value'] < 0.9, kept
            assert report.verdict != 'fail' and not o.archived, report.metrics
            with Image.open(store.path_of(project, s.get(Asset, o.asset_id))) as im:
                alpha = np.asarray(im.getchannel('A'))
                assert im.mode == 'RGBA' and alpha.min() == 0 and alpha.max() == 255  # transparency survived


def test_character_sheets_are_cut_out_by_default_and_panels_are_not(sessions, store, project) -> None:
    panel = approved(sessions, store, project, drawing())
    with sessions() as s:
        sheet, _ = store.ingest(s, project, drawing(500), name='mara-front.png', kind=AssetKind.character)
    result = PostprocessRunner(sessions, store).run('pp', PostprocessRequest(asset_ids=[panel, sheet.id]))
    ops = {o.source_id: o.ops for o in result.finals().values()}
    assert ops == {panel: ('upscale', 'color'), sheet.id: ('bg', 'upscale', 'color')}
    every = PostprocessRunner(sessions, store).run('pp', PostprocessRequest(asset_ids=[panel], cutout='all'))
    assert every.finals()[panel].ops == ('bg', 'upscale', 'color')
    with pytest.raises(Invalid, match='Cut-out scope'):
        PostprocessRunner(sessions, store).run('pp', PostprocessRequest(asset_ids=[panel], cutout='some'))


def test_an_archived_output_shows_why_and_is_restored_in_one_call(sessions, store, project) -> None:
    source = approved(sessions, store, project, drawing())
    with sessions() as s:
        projects.update_project(s, 'pp', ProjectUpdate(settings={'qa': {'min_width': 4096, 'min_height': 4096}}))
    (out,) = PostprocessRunner(sessions, store).run('pp', PostprocessRequest(asset_ids=[source], steps='color')).outputs
    with sessions() as s:
        (item,) = archive.archived_outputs(s, project.id)
        assert item.asset.id == out.asset_id and item.source_id == source
        assert item.reason == 'technical: 600×600 is under the 4096×4096 minimum'
        assert chapters.placeable_assets(s, project.id)[0].id == source  # archived: not offered on Pages
        restored = archive.restore_output(s, project.id, out.asset_id)
        assert restored.status == ReviewState.generated
        assert out.asset_id in {a.id for a in chapters.placeable_assets(s, project.id)}
        assert archive.archived_outputs(s, project.id) == []
        with pytest.raises(Conflict, match='Only an archived'):
            archive.restore_output(s, project.id, out.asset_id)
