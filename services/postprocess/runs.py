"""Post-process on a project (J07): bg → upscale → colour on approved assets, each output a QA-checked derived asset."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlmodel import Session, col, select

from models.assets import Asset, AssetRead, QualityReport
from models.base import AssetKind, LinkRelation, ProviderKind, ReviewState
from models.db import SessionFactory
from models.project import ProjectRead
from services.errors import Invalid, KromaError, ProviderError
from services.postprocess.background import rembg_available
from services.postprocess.chain import ChainStep, parse_steps, run_chain, to_png_bytes
from services.postprocess.colour import ColourProfile
from services.postprocess.remote_background import remove_background_remote
from services.postprocess.settings import BG_BACKENDS as BG_BACKENDS
from services.postprocess.settings import CUTOUT_SCOPES as CUTOUT_SCOPES
from services.postprocess.settings import PostprocessRequest as PostprocessRequest
from services.postprocess.settings import PostprocessSettings as PostprocessSettings
from services.postprocess.settings import colour_profiles as colour_profiles
from services.postprocess.settings import save_colour_profile as save_colour_profile
from services.postprocess.settings import save_defaults as save_defaults
from services.postprocess.settings import settings_for as settings_for
from services.projects import projects
from services.projects.assets import AssetStore, get_asset, link_assets, read
from services.providers import accounts as provider_accounts
from services.providers.base import ProviderConfig
from services.qa.cutout import evaluate_cutout, has_transparency
from services.qa.lighting import Lighting
from services.qa.report import evaluate, style_basis
from services.qa.style import StyleProfile
from services.qa.thresholds import QAThresholds
from services.runs.candidate_qa import thresholds_for
from services.security import audit

log = logging.getLogger(__name__)

REMOTE_KINDS = (ProviderKind.removebg, ProviderKind.photoroom)
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DerivedOutput:
    """One step's output as stored: its asset, what made it, and its QA verdict."""

    source_id: str
    parent_id: str
    asset_id: str
    ops: tuple[str, ...]
    method: str
    verdict: str
    score: float
    archived: bool


@dataclass(frozen=True)
class SourceFailure:
    source_id: str
    name: str
    reason: str


@dataclass
class PostprocessResult:
    outputs: list[DerivedOutput] = field(default_factory=list)
    failures: list[SourceFailure] = field(default_factory=list)

    def finals(self) -> dict[str, DerivedOutput]:
        """The last output of each source's chain, for before/after."""
        return {o.source_id: o for o in self.outputs}


def select_sources(
    session: Session, project_id: str, *, asset_ids: Sequence[str] | None = None, stage: str | None = None
) -> list[AssetRead]:
    """Approved assets (named ones, or every approved non-derived asset of a stage) and named character sheets."""
    if asset_ids:
        chosen = [read(get_asset(session, project_id, i)) for i in dict.fromkeys(asset_ids)]
        allowed = [a for a in chosen if a.status == ReviewState.approved or a.kind == AssetKind.character]
        if pending := [a.original_name or a.id[:8] for a in chosen if a not in allowed]:
            raise Invalid(f'Only approved images can be post-processed; {pending[0]} is not.', code='not_approved')
        return chosen
    if not stage:
        raise Invalid('Choose approved assets or a whole stage.', code='no_sources')
    rows = session.exec(
        select(Asset)
        .where(Asset.project_id == project_id, Asset.stage == stage, Asset.status == ReviewState.approved)
        .where(Asset.kind != AssetKind.derived)
        .order_by(col(Asset.created_at), col(Asset.id))
    ).all()
    if not rows:
        raise Invalid(f'The {stage} stage has no approved assets yet.', code='no_sources')
    return [read(r) for r in rows]


@dataclass
class _Context:
    """Everything read up front, so no transaction stays open while pixels are being worked on."""

    project: ProjectRead
    sources: list[AssetRead]
    steps: list[ChainStep]
    profiles: dict[str, ColourProfile]
    remote: ProviderConfig | None
    style: StyleProfile | None
    thresholds: QAThresholds
    cutout: str = 'sheets'
    lighting: Lighting | None = None  # the style refs' light: a colour grade is set aside before style is judged

    def steps_for(self, source: AssetRead) -> list[ChainStep]:
        """A scene panel keeps its background unless the artist asked to cut every image out."""
        cut = self.cutout == 'all' or source.kind == AssetKind.character
        return [s for s in self.steps if s.op != 'bg' or cut]


class PostprocessRunner:
    """Runs the chain for the page, the CLI and jobs; blocking, so callers run it in a worker thread."""

    def __init__(self, sessions: SessionFactory, store: AssetStore, secrets: object = None) -> None:
        self.sessions, self.store, self.secrets = sessions, store, secrets

    def run(self, slug: str, req: PostprocessRequest, *, on_progress: Progress | None = None) -> PostprocessResult:
        """Each output is committed with its file, link and QA before the next step starts."""
        report = on_progress or (lambda _f, _m: None)
        with self.sessions() as s:
            ctx = self._prepare(s, slug, req)
        result, total = PostprocessResult(), max(1, sum(len(ctx.steps_for(src)) for src in ctx.sources))
        report(0.0, f'{len(ctx.sources)} image(s) × up to {len(ctx.steps)} step(s)')
        done = 0
        for source in ctx.sources:
            name = source.original_name or source.id[:8]
            try:
                with Image.open(self.store.path_of(ctx.project, source)) as im:
                    image = im.copy()
            except (OSError, UnidentifiedImageError) as e:
                result.failures.append(SourceFailure(source.id, name, f'{name}: the file cannot be read ({e}).'))
                continue
            parent, ops, original = source.id, (), image
            for step in ctx.steps_for(source):
                try:
                    image, out = self._step(ctx, source, parent, (*ops, step.op), step, image, original)
                except KromaError as e:
                    result.failures.append(SourceFailure(source.id, name, f'{name}: {step.op}: {e.user_message}'))
                    log.warning('post-process of %s stopped at %s: %s', source.id, step.op, e.user_message)
                    break
                result.outputs.append(out)
                parent, ops, done = out.asset_id, out.ops, done + 1
                report(done / total, f'{name}: {step.op} ({out.method}) → {out.verdict}')
        archived = sum(o.archived for o in result.outputs)
        with self.sessions() as s:
            payload = {
                'steps': [st.op for st in ctx.steps],
                'sources': len(ctx.sources),
                'outputs': len(result.outputs),
            }
            payload |= {'archived': archived, 'failed': len(result.failures)}
            audit.record(s, project_id=ctx.project.id, action='postprocess.run', payload=payload)
        report(1.0, f'Done: {len(result.outputs)} output(s), {archived} archived, {len(result.failures)} failed')
        log.info('post-process on %s: %d outputs, %d archived', slug, len(result.outputs), archived)
        return result

    def _prepare(self, session: Session, slug: str, req: PostprocessRequest) -> _Context:
        project = projects.get_project(session, slug)
        overrides = {k: v for k, v in asdict(req).items() if k not in ('asset_ids', 'stage')}
        if (
            overrides['cutout'] is None
            and req.steps is not None
            and 'bg' in {s.op for s in parse_steps(req.steps, profile=None)}
        ):
            overrides['cutout'] = 'all'  # the artist named the step: they want these images cut out
        conf, profiles = settings_for(project).override(**overrides), colour_profiles(project)
        if 'color' in conf.steps and conf.profile not in profiles:
            raise Invalid(f'Unknown colour profile {conf.profile!r}; available: {", ".join(sorted(profiles))}.')
        bg_method, remote = self._bg_backend(session, project, conf.bg_backend) if 'bg' in conf.steps else ('', None)
        tuned = {'bg': {'method': bg_method, 'feather_px': conf.feather}, 'upscale': {'method': conf.upscale_method}}
        steps = [
            ChainStep(s.op, {**s.params, **tuned.get(s.op, {})})
            for s in parse_steps(list(conf.steps), profile=conf.profile, scale=conf.scale)
        ]
        sources = select_sources(session, project.id, asset_ids=req.asset_ids, stage=req.stage)
        styles = session.exec(select(Asset).where(Asset.project_id == project.id, Asset.kind == AssetKind.style))
        style_paths = [self.store.path_of(project, a) for a in styles]
        style, lighting = style_basis(style_paths, relit='color' in conf.steps)
        return _Context(
            project, sources, steps, profiles, remote, style, thresholds_for(project), conf.cutout, lighting
        )

    def _bg_backend(self, session: Session, project: ProjectRead, backend: str) -> tuple[str, ProviderConfig | None]:
        """Remote only with a stored key, rembg only when installed with its model; otherwise the offline cut-out."""
        if backend == 'rembg':
            ok, message = rembg_available()
            if ok:
                return 'rembg', None
            log.warning('rembg asked for but unavailable (%s); using the offline cut-out', message)
        if backend in ('auto', 'remote') and self.secrets is not None:
            accounts = provider_accounts.list_accounts(session, project_id=project.id, kinds=REMOTE_KINDS)
            for acc in sorted((a for a in accounts if a.has_key), key=lambda a: a.project_id is None):
                return 'remote', provider_accounts.provider_config(session, acc.id, secrets=self.secrets)  # type: ignore[arg-type]
        if backend == 'remote':
            log.warning('no remove.bg or PhotoRoom key for %s; using the offline cut-out', project.slug)
        return 'grabcut', None

    def _step(
        self,
        ctx: _Context,
        source: AssetRead,
        parent: str,
        chain: tuple[str, ...],
        step: ChainStep,
        image: Image.Image,
        original: Image.Image,
    ) -> tuple[Image.Image, DerivedOutput]:
        """One operation → a new derived asset (file, derived_from link with how it was made, QA report)."""
        started = time.perf_counter()
        if step.op == 'bg' and ctx.remote is not None:
            out, method, params = _remote_cutout(image, ctx.remote, step)
        else:
            res = run_chain(image, [step], profiles=ctx.profiles)[0]
            out, method, params = res.image, res.method, res.params
        ms = round((time.perf_counter() - started) * 1000, 1)
        scene = original  # a post-process step must keep the approved image's layout: drift is measured against it
        # a colour grade the artist chose changes the colours on purpose: style is judged with it set aside, as on
        # the stages that relight (services/qa/report.evaluate)
        lighting = ctx.lighting if 'color' in chain else None
        if has_transparency(out):  # a cut-out is judged on what it keeps, laid over its source
            qa = evaluate_cutout(
                out, original, scene=scene, style_profile=ctx.style, thresholds=ctx.thresholds, lighting=lighting
            )
        else:
            qa = evaluate(out, style_profile=ctx.style, scene=scene, thresholds=ctx.thresholds, lighting=lighting)
        archived = qa.verdict == 'fail'
        with self.sessions() as s:
            asset, _ = self.store.ingest(
                s,
                ctx.project,
                to_png_bytes(out),
                name=f'{Path(source.original_name or "image").stem}-{"-".join(chain)}.png',
                kind=AssetKind.derived,
                tags=['derived', *chain],
                scene_id=source.scene_id,
                character_id=source.character_id,
                stage=source.stage,
                status=ReviewState.archived if archived else ReviewState.generated,
                meta={'postprocess': {'source_id': source.id, 'ops': list(chain), 'method': method}},
                dedupe=False,  # a new asset per run, even when the bytes repeat; the file itself is stored once
            )
            link = {'op': step.op, 'method': method, 'params': params, 'ms': ms}
            link_assets(s, ctx.project.id, parent, asset.id, LinkRelation.derived_from, link, audited=False)
            metrics = qa.to_dict()['metrics']
            s.add(
                QualityReport(
                    project_id=ctx.project.id, asset_id=asset.id, verdict=qa.verdict, score=qa.score, metrics=metrics
                )
            )
        if archived:
            log.warning('derived %s of %s failed QA (%s); archived', asset.id, source.id, ', '.join(qa.failures))
        return out, DerivedOutput(source.id, parent, asset.id, chain, method, qa.verdict, qa.score, archived)


def _remote_cutout(image: Image.Image, config: ProviderConfig, step: ChainStep) -> tuple[Image.Image, str, dict]:
    """The paid cut-out on a private event loop (this is a worker thread); a failure falls back to offline."""
    try:
        png, key = to_png_bytes(image), config.api_key or ''
        data = asyncio.run(
            remove_background_remote(png, service=config.kind, api_key=key, base_url=config.base_url or None)
        )
        with Image.open(io.BytesIO(data)) as im:
            return im.convert('RGBA'), config.kind, {'service': config.kind, 'account': config.name}
    except ProviderError as e:
        log.warning('%s cut-out failed (%s); using the offline cut-out', config.kind, e.user_message)
        res = run_chain(image, [ChainStep('bg', {**step.params, 'method': 'grabcut'})])[0]
        return res.image, res.method, {**res.params, 'remote_error': e.user_message}
