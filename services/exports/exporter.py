"""Export (J08): render the pages, record every image's lineage in the manifest, write ZIP/CBZ/PDF atomically."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlmodel import Session, col, select

from models.assets import Asset, QualityReport
from models.base import utcnow
from models.db import SessionFactory
from models.layout import Export
from models.project import ProjectRead
from models.runs import Candidate, Job, Run
from services.crud import get_owned
from services.errors import Invalid
from services.exports import packages
from services.files import safe_child
from services.layout import chapters
from services.layout.chapters import ChapterRead, PanelRead
from services.layout.render import PageSpec, render_page
from services.layout.templates import DPI_MAX, DPI_MIN
from services.projects import projects
from services.projects.assets import AssetStore
from services.runs import queue as run_queue
from services.security import audit

log = logging.getLogger(__name__)

FORMATS = ('zip', 'cbz', 'pdf')
DEFAULT_DPI = 300
PNG_LEVEL = 6
MANIFEST_VERSION = 1
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a format, one chapter by number (None: all chapters in order) and the page DPI."""

    format: str = 'zip'
    chapter: int | None = None
    dpi: int = DEFAULT_DPI
    out: Path | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise Invalid(f'Export format must be one of {", ".join(FORMATS)}.', details={'field': 'format'})
        if type(self.dpi) is not int or not DPI_MIN <= self.dpi <= DPI_MAX:
            raise Invalid(f'DPI must be a whole number from {DPI_MIN} to {DPI_MAX}.', details={'field': 'dpi'})


@dataclass(frozen=True)
class ExportRead:
    """A recorded package: where it is (relative to the project root when inside it), size and SHA-256."""

    id: str
    format: str
    chapter_id: str | None
    path: str
    size_bytes: int
    sha256: str
    pages: int
    created_at: datetime


@dataclass
class _Plan:
    """Everything read from the database up front, so no transaction stays open while pages render."""

    project: ProjectRead
    chapters: list[ChapterRead]
    pages: list[tuple[str, PageSpec, dict]] = field(default_factory=list)
    images: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)


def encode_png(image: Image.Image, *, dpi: int) -> bytes:
    """Page images are encoded the same way at export and at reproduce, so equal pixels give equal hashes; each
    carries its DPI (pHYs), so print and layout tools size the page right."""
    buf = io.BytesIO()
    image.save(buf, 'PNG', compress_level=PNG_LEVEL, dpi=(dpi, dpi))
    return buf.getvalue()


class Exporter:
    """Blocking (Pillow and zip): the page runs it in run.io_bound, the CLI directly."""

    def __init__(self, sessions: SessionFactory, store: AssetStore) -> None:
        self.sessions, self.store = sessions, store

    def run(self, slug: str, req: ExportRequest, *, on_progress: Progress | None = None) -> ExportRead:
        """Render → package → Export row; the package is renamed into place only when complete."""
        report = on_progress or (lambda _f, _m: None)
        report(0.0, 'Reading pages and lineage')
        with self.sessions() as s:
            plan = self._plan(s, slug, req)
        root = self.store.root(plan.project)
        out = _target(root, plan, req)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix='.kroma-render-') as tmp:
            rendered = []
            for i, (arcname, spec, entry) in enumerate(plan.pages):
                report(0.05 + 0.6 * i / len(plan.pages), f'Rendering page {i + 1} of {len(plan.pages)}')
                image = render_page(spec, dpi=req.dpi)
                entry['width'], entry['height'] = image.size
                path = Path(tmp) / arcname.replace('/', '_')
                path.write_bytes(encode_png(image, dpi=req.dpi))
                rendered.append(packages.PackageFile(arcname, path=path))
            manifest = _manifest(plan, req)  # after rendering: page entries now carry their pixel sizes
            report(0.65, f'Writing {out.name}')

            def step(f: float) -> None:
                report(0.65 + 0.33 * f, f'Writing {out.name}')

            digest = self._write(out, req, plan, manifest, rendered, step)
        with self.sessions() as s:
            read = _record(s, plan, req, root, out, digest, manifest)
        report(1.0, f'Done: {out.name} ({read.size_bytes / 1e6:.1f} MB)')
        log.info('exported %s %s (%d pages, sha256 %s)', slug, out.name, read.pages, digest[:12])
        return read

    def _write(self, out: Path, req: ExportRequest, plan: _Plan, manifest: dict, rendered: list, step: Callable) -> str:
        if req.format == 'pdf':
            return packages.write_pdf(out, [f.path for f in rendered], dpi=req.dpi)
        if req.format == 'cbz':
            one = plan.chapters[0] if len(plan.chapters) == 1 else None
            info = packages.ComicInfo(
                title=(one.title or f'Chapter {one.number}') if one else plan.project.name,
                series=plan.project.name,
                number=one.number if one else '',
                writer=', '.join(dict.fromkeys(c.writer for c in plan.chapters if c.writer)),
                summary=plan.project.description,
            )
            return packages.write_cbz(out, rendered, info, manifest=manifest, on_progress=step)
        gens = [e['generation'] for e in plan.images.values() if e['generation']]
        extra = {e['image']: e['sha256'] for e in plan.images.values()}  # keyed by name: equal bytes stored once
        extra |= {i['arcname']: i['sha256'] for g in gens for i in g['inputs'] if i['arcname']}
        files = [packages.PackageFile(name, path=plan.sources[sha]) for name, sha in extra.items()]
        return packages.write_zip_package(out, [*rendered, *files], manifest, on_progress=step)

    def _plan(self, session: Session, slug: str, req: ExportRequest) -> _Plan:
        project = projects.get_project(session, slug)
        if req.chapter is not None:
            scope = [chapters.chapter_by_number(session, project.id, req.chapter)]
        else:
            scope = [c for c in chapters.list_chapters(session, project.id) if c.pages]
        plan = _Plan(project, scope)
        width = max(3, len(str(sum(c.pages for c in scope))))
        for chapter in scope:
            for page in chapters.list_pages(session, project.id, chapter.id):
                spec = chapters.page_spec(session, project, page.id, store=self.store)
                n = len(plan.pages) + 1
                arcname = f'pages/ch{chapter.number:02d}-p{page.number:03d}.png'
                image = {'zip': arcname, 'cbz': f'{n:0{width}d}.png', 'pdf': f'page {n}'}[req.format]
                entry = {'chapter': chapter.number, 'number': page.number, 'image': image, 'dpi': req.dpi}
                entry |= {'template': page.template, 'size_preset': page.size_preset, 'grid': page.grid or None}
                entry['panels'] = [self._panel(session, plan, req, chapter, page.number, p) for p in page.panels]
                plan.pages.append((arcname if req.format == 'zip' else f'{n:05d}.png', spec, entry))
        if not plan.pages:
            where = f'Chapter {req.chapter}' if req.chapter is not None else 'This project'
            raise Invalid(f'{where} has no pages yet; lay out a page first.', code='export_empty')
        return plan

    def _panel(
        self, session: Session, plan: _Plan, req: ExportRequest, chapter: ChapterRead, page: int, p: PanelRead
    ) -> dict:
        """One slot of a page in the manifest; its image's lineage is collected once however often it is placed."""
        placed = {'slot': p.slot, 'crop': p.crop, 'balloons': list(p.balloons), 'asset_id': p.asset_id}
        if p.asset_id is None:
            return placed | {'sha256': None, 'image': None}
        if p.asset_id not in plan.images:
            asset = session.get(Asset, p.asset_id)
            plan.images[p.asset_id] = self._lineage(session, plan, req, asset)
        entry = plan.images[p.asset_id]
        entry['placements'].append({'chapter': chapter.number, 'page': page, 'slot': p.slot, 'crop': p.crop})
        entry['placements'][-1]['balloons'] = list(p.balloons)
        return placed | {'sha256': entry['sha256'], 'image': entry['image']}

    def _lineage(self, session: Session, plan: _Plan, req: ExportRequest, asset: Asset) -> dict:
        """Run, job, candidate, provider, prompt, seed, inputs, QA and each post-process step, back to the source."""
        zip_ = req.format == 'zip'
        plan.sources[asset.sha256] = self.store.path_of(plan.project, asset)
        source, chain = chapters.derived_chain(session, asset)
        steps = [
            {'op': link.params.get('op'), 'method': link.params.get('method'), 'params': link.params.get('params')}
            | {'asset_id': out.id, 'sha256': out.sha256, 'qa': _qa(session, out.id)}
            for link, out in chain
        ]
        image = f'panels/{asset.sha256}{Path(asset.path).suffix.lower()}' if zip_ else None
        entry = {'asset_id': asset.id, 'sha256': asset.sha256, 'image': image, 'kind': asset.kind.value}
        entry |= {'stage': asset.stage, 'width': asset.width, 'height': asset.height, 'status': asset.status.value}
        entry |= {'qa': _qa(session, asset.id), 'generation': self._generation(session, plan, source, zip_)}
        return entry | {'postprocess': steps, 'placements': []}

    def _generation(self, session: Session, plan: _Plan, source: Asset, zip_: bool) -> dict | None:
        """How the source candidate was made: exactly the fields a provider request needs, plus the run's context."""
        cand = session.get(Candidate, source.meta.get('candidate_id') or '')
        job = session.get(Job, cand.job_id) if cand else None
        run = session.get(Run, cand.run_id) if cand else None
        if cand is None or job is None or run is None:
            return None
        inputs = []
        for i in job.inputs:
            row = session.get(Asset, i.get('asset_id') or '')
            arcname = f'inputs/{row.sha256}{Path(row.path).suffix.lower()}' if row and zip_ else None
            if row is not None:
                plan.sources[row.sha256] = self.store.path_of(plan.project, row)
            inputs.append({'role': i['role'], 'name': i.get('name', ''), 'sha256': i['sha256'], 'arcname': arcname})
        account, meta, params = run.settings_snapshot.get('provider') or {}, source.meta, job.params
        out = {'run_id': run.id, 'job_id': job.id, 'candidate_id': cand.id, 'candidate_index': cand.index}
        out |= {'asset_id': source.id, 'sha256': source.sha256, 'provider_account': account.get('name', '')}
        out |= {'provider': meta.get('provider') or account.get('kind', ''), 'model': meta.get('model') or ''}
        out |= {'provider_meta': meta.get('provider_meta') or {}, 'stage': run.stage.value, 'prompt': job.prompt}
        out |= {'seed': cand.seed, 'size': list(params.get('size') or (1024, 1536)), 'inputs': inputs}
        out |= {'stage_params': run_queue.provider_params(params)}
        out |= {'scene': params.get('scene', ''), 'characters': params.get('characters') or []}
        return out | {'qa': _qa(session, source.id, cand.id), 'rank': cand.rank, 'review_state': cand.review_state}


def _qa(session: Session, asset_id: str, candidate_id: str | None = None) -> dict | None:
    query = select(QualityReport).where(QualityReport.asset_id == asset_id)
    if candidate_id:
        query = query.where(QualityReport.candidate_id == candidate_id)
    report = session.exec(query.order_by(col(QualityReport.created_at).desc())).first()
    return {'verdict': report.verdict, 'score': report.score, 'metrics': report.metrics} if report else None


def _manifest(plan: _Plan, req: ExportRequest) -> dict[str, Any]:
    """The package's own record; paths in it are package members only, never files on this machine."""
    return {
        'kroma_export': MANIFEST_VERSION,
        'format': req.format,
        'dpi': req.dpi,
        'project': {'slug': plan.project.slug, 'name': plan.project.name},
        'chapters': [{'number': c.number, 'title': c.title, 'writer': c.writer} for c in plan.chapters],
        'pages': [entry for _, _, entry in plan.pages],
        'images': list(plan.images.values()),
    }


def _target(root: Path, plan: _Plan, req: ExportRequest) -> Path:
    """Under <project>/exports/ by default, never overwriting an earlier export; --out may point anywhere."""
    scope = f'ch{plan.chapters[0].number:02d}' if req.chapter is not None else 'all'
    name = f'{plan.project.slug}-{scope}-{utcnow():%Y%m%d-%H%M%S}'
    if req.out is not None:
        out = Path(req.out).expanduser()
        if not out.is_dir():
            return out if out.suffix else out.with_suffix(f'.{req.format}')
        folder = out
    else:
        folder = safe_child(root, 'exports')
    out, n = folder / f'{name}.{req.format}', 1
    while out.exists():
        n += 1
        out = folder / f'{name}-{n}.{req.format}'
    return out


def _record(
    session: Session, plan: _Plan, req: ExportRequest, root: Path, out: Path, digest: str, manifest: dict
) -> ExportRead:
    resolved = out.resolve()
    stored = str(resolved.relative_to(root.resolve())) if resolved.is_relative_to(root.resolve()) else str(resolved)
    chapter_id = plan.chapters[0].id if req.chapter is not None else None
    row = Export(project_id=plan.project.id, chapter_id=chapter_id, format=req.format, path=stored)
    row.size_bytes, row.checksum_sha256, row.manifest = out.stat().st_size, digest, manifest
    session.add(row)
    session.flush()
    payload = {'export_id': row.id, 'format': row.format, 'chapter': req.chapter, 'pages': len(plan.pages)}
    payload |= {'sha256': digest, 'size_bytes': row.size_bytes}
    audit.record(session, project_id=plan.project.id, action='export.create', payload=payload)
    return _read(row)


def _read(row: Export) -> ExportRead:
    pages = len(row.manifest.get('pages') or ())
    return ExportRead(
        row.id, row.format, row.chapter_id, row.path, row.size_bytes, row.checksum_sha256, pages, row.created_at
    )


def list_exports(session: Session, project_id: str, *, limit: int = 50) -> list[ExportRead]:
    """Newest first, for the export history."""
    rows = session.exec(
        select(Export).where(Export.project_id == project_id).order_by(col(Export.created_at).desc()).limit(limit)
    ).all()
    return [_read(r) for r in rows]


def get_export(session: Session, project_id: str, export_id: str) -> ExportRead:
    """One export of this project only (downloads are scoped by project)."""
    return _read(get_owned(session, Export, project_id, export_id))


def export_path(store: AssetStore, project: ProjectRead, export: ExportRead) -> Path:
    """Where a recorded package is: relative paths live under the project root."""
    path = Path(export.path)
    return path if path.is_absolute() else safe_child(store.root(project), export.path)
