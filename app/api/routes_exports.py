"""Exports (ZIP/CBZ/PDF with checksums: create, list, download) and backups (now, list, verify)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Access, ApiContext, Principal
from app.api.errors import EnvelopeRoute
from models.project import ProjectRead
from services.backups.config import backup_history, backup_service, resolve_target
from services.backups.service import BackupService
from services.exports import exporter as exports
from services.exports.exporter import DEFAULT_DPI, Exporter, ExportRequest
from services.projects import projects

P = '/api/projects/{slug}'


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


class ExportIn(Strict):
    format: Literal['zip', 'cbz', 'pdf'] = 'zip'
    chapter: int | None = Field(None, ge=0, le=100_000, description='One chapter by number; default all, in order.')
    dpi: int = Field(DEFAULT_DPI, ge=1, le=2400)


class BackupIn(Strict):
    project_slug: str | None = Field(None, max_length=64, description="Only this project's files, to its S3 target.")


class VerifyIn(Strict):
    snapshot_key: str = Field(max_length=500)
    deep: bool = Field(True, description='Download and re-hash every object (else trust stored checksums).')
    project_slug: str | None = Field(None, max_length=64)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute)
    deps, sessions = ctx.deps, ctx.deps.sessions

    @router.get(P + '/exports', tags=['exports'])
    def list_exports(limit: int = Query(50, ge=1, le=500), a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = exports.list_exports(s, a.project.id, limit=limit)
        return {'ok': True, 'count': len(rows), 'exports': jsonable_encoder(rows)}

    @router.post(P + '/exports', status_code=201, tags=['exports'])
    def create_export(body: ExportIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Render the pages and write the package (blocking: runs in a worker thread); manifest has every sha256."""
        read = Exporter(deps.sessions, deps.store).run(a.project.slug, ExportRequest(**body.model_dump()))
        return {'ok': True, 'export': jsonable_encoder(read)}

    @router.get(P + '/exports/{export_id}', tags=['exports'])
    def get_export(export_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            read = exports.get_export(s, a.project.id, export_id)
        return {'ok': True, 'export': jsonable_encoder(read)}

    @router.get(P + '/exports/{export_id}/download', tags=['exports'], response_class=FileResponse)
    def download_export(export_id: str, a: Access = Depends(ctx.access)) -> FileResponse:
        with sessions() as s:
            read = exports.get_export(s, a.project.id, export_id)
        path = exports.export_path(deps.store, a.project, read)
        return FileResponse(path, filename=path.name, headers={'X-Checksum-SHA256': read.sha256})

    # -- backups ---------------------------------------------------------------------------------------------
    def service(who: Principal, slug: str | None) -> tuple[BackupService, ProjectRead | None]:
        """A scoped token can back up and verify only its own project, never 'all projects'."""
        with sessions() as s:
            project = projects.get_project(s, slug) if slug else None
            who.require_project(project.id if project else None)
            target = resolve_target(defaults=deps.backup, project=project, secrets=deps.secrets, session=s)
        db_path = deps.backup.db_path or deps.data_dir / 'kroma.db'
        return backup_service(target, data_dir=deps.data_dir, db_path=db_path), project

    @router.get('/api/backups', tags=['backups'])
    def list_backups(
        project_slug: str | None = Query(None, max_length=64), who: Principal = Depends(ctx.principal)
    ) -> dict[str, Any]:
        """Snapshots as the bucket lists them (the truth, also for another machine), newest first."""
        svc, _ = service(who, project_slug)
        listed = svc.list_snapshots()
        with sessions() as s:
            rows = backup_history(s, listed)
        return {'ok': True, 'count': len(rows), 'bucket': svc.target.bucket, 'backups': jsonable_encoder(rows)}

    @router.post('/api/backups', status_code=201, tags=['backups'])
    def backup_now(body: BackupIn, who: Principal = Depends(ctx.principal)) -> dict[str, Any]:
        """Snapshot the database and files now (blocking: a worker thread); unchanged files are not uploaded again."""
        svc, _ = service(who, body.project_slug)
        snap = svc.snapshot(deps.sessions, project_slug=body.project_slug)
        return {'ok': True, 'backup': jsonable_encoder(snap)}

    @router.post('/api/backups/verify', tags=['backups'])
    def verify_backup(body: VerifyIn, who: Principal = Depends(ctx.principal)) -> dict[str, Any]:
        """Re-check every object of a snapshot against its SHA-256; ok is false when anything is missing or damaged."""
        svc, _ = service(who, body.project_slug)
        result = svc.verify(body.snapshot_key, deep=body.deep, session_factory=deps.sessions)
        return {'ok': True, 'verify': jsonable_encoder(result)}

    return router
