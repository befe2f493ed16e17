"""Projects and their storage: create (never an upsert), patch without blanking, archive, delete with confirm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Access, ApiContext, Principal
from app.api.errors import EnvelopeRoute
from models.project import ProjectCreate, ProjectRead, ProjectUpdate, StorageUpdate
from services.errors import Invalid, PolicyRefused
from services.projects import projects

P = '/api/projects/{slug}'


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str = Field('', max_length=5000)
    budget_usd: float = Field(50.0, ge=0, le=1_000_000)


class ProjectPatch(BaseModel):
    model_config = ConfigDict(extra='forbid')
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)
    budget_usd: float | None = Field(None, ge=0, le=1_000_000)
    batch_limit: int | None = Field(None, ge=1, le=500)
    settings: dict[str, Any] | None = None


class ArchiveIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    archived: bool = True


class LocalStorageIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    project_root: str | None = Field(None, max_length=1000, description='Absolute folder; "" goes back to default.')
    move: bool = Field(False, description="Move the project's existing files there (each checked by SHA-256).")


class S3StorageIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    bucket: str | None = Field(None, max_length=63)
    prefix: str | None = Field(None, max_length=500)
    endpoint_url: str | None = Field(None, max_length=500)
    region: str | None = Field(None, max_length=40)


def storage_json(p: ProjectRead, root: str) -> dict[str, Any]:
    return {
        'local': {'project_root': root, 'custom_root': p.storage_root is not None},
        's3': {'bucket': p.s3_bucket, 'prefix': p.s3_prefix, 'endpoint_url': p.s3_endpoint_url, 'region': p.s3_region},
    }


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute, tags=['projects'])
    deps, sessions = ctx.deps, ctx.deps.sessions

    def allowed_root(text: str) -> None:
        """Over the API a custom root must sit under a folder the admin allow-listed (KROMA_STORAGE_ROOTS)."""
        if '\x00' in text or not Path(text).expanduser().is_absolute():
            raise Invalid('Storage root must be an absolute path.', code='invalid_storage_root')
        path = Path(text).expanduser().resolve()
        bases = deps.options.storage_roots
        if not any(path.is_relative_to(b) for b in bases):
            where = (
                f'inside {", ".join(str(b) for b in bases)}'
                if bases
                else 'set in the studio (or allow-list a folder with KROMA_STORAGE_ROOTS)'
            )
            raise PolicyRefused(f'Over the API a storage root must be {where}.', code='storage_root_not_allowed')

    def storage(p: ProjectRead) -> dict[str, Any]:
        return storage_json(p, str(projects.project_root(p, deps.data_dir)))

    @router.get('/api/projects')
    def list_projects(include_archived: bool = Query(False), who: Principal = Depends(ctx.principal)) -> dict[str, Any]:
        """Projects with their stats (runs, assets, approved, spend, QA pass rate); a scoped token sees its own."""
        with sessions() as s:
            rows = projects.list_projects(s, include_archived=include_archived or who.project_id is not None)
        rows = [r for r in rows if who.project_id in (None, r.project.id)]
        return {'ok': True, 'count': len(rows), 'projects': jsonable_encoder(rows)}

    @router.post('/api/projects', status_code=201)
    def create_project(body: ProjectIn, who: Principal = Depends(ctx.unscoped)) -> dict[str, Any]:
        """A new project (needs an unscoped token); an existing slug is a 409, never an overwrite."""
        with ctx.unit(who, 'project.create', project_id=None, payload={'slug': body.slug}) as u:
            p = projects.create_project(u.session, ProjectCreate(**body.model_dump()), data_dir=deps.data_dir)
            u.project_id = p.id
        return {'ok': True, 'project': jsonable_encoder(p), 'storage': storage(p)}

    @router.get(P)
    def get_project(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            stats = projects.project_stats(s, a.project.id)
        return {
            'ok': True,
            'project': jsonable_encoder(a.project),
            'stats': stats.model_dump(),
            'storage': storage(a.project),
        }

    @router.patch(P)
    def update_project(body: ProjectPatch, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Only the fields sent change; an omitted field keeps its value."""
        patch = body.model_dump(exclude_unset=True)
        with ctx.unit(a.principal, 'project.update', project_id=a.project.id, payload={'fields': sorted(patch)}) as u:
            p = projects.update_project(u.session, a.project.slug, ProjectUpdate(**patch))
        return {'ok': True, 'project': jsonable_encoder(p)}

    @router.post(P + '/archive')
    def archive_project(body: ArchiveIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Archive (or restore with archived=false); nothing is deleted."""
        action = 'project.archive' if body.archived else 'project.restore'
        with ctx.unit(a.principal, action, project_id=a.project.id) as u:
            p = projects.archive_project(u.session, a.project.slug, archived=body.archived)
        return {'ok': True, 'project': jsonable_encoder(p)}

    @router.delete(P)
    def delete_project(
        confirm: str = Query('', max_length=64, description='Repeat the slug to confirm.'),
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        """Deletes the project and its files for good; the slug must be repeated in ?confirm=."""
        with ctx.unit(a.principal, 'project.delete', project_id=None, payload={'slug': a.project.slug}) as u:
            projects.delete_project(u.session, a.project.slug, confirm=confirm, data_dir=deps.data_dir)
        return {'ok': True, 'deleted': True, 'id': a.project.id}

    @router.get(P + '/storage', tags=['storage'])
    def get_storage(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        return {'ok': True, 'project': {'id': a.project.id, 'slug': a.project.slug}, 'storage': storage(a.project)}

    @router.put(P + '/storage/local', tags=['storage'])
    def put_local(body: LocalStorageIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Admin only: move the project's files root (its own writable folder); "" returns to the data dir."""
        a.principal.require_unscoped("change where a project's files live; it needs an unscoped token")
        if body.project_root:
            allowed_root(body.project_root)
        given = body.model_dump(exclude_unset=True, exclude={'move'})
        data = StorageUpdate(**({'storage_root': given['project_root'] or ''} if 'project_root' in given else {}))
        with ctx.unit(a.principal, 'storage.local.update', project_id=a.project.id, payload=given) as u:
            p = projects.update_storage(
                u.session, a.project.slug, data, data_dir=deps.data_dir, db_path=deps.options.db_path, move=body.move
            )
        return {'ok': True, 'updated': 'local', 'storage': storage(p)}

    @router.put(P + '/storage/s3', tags=['storage'])
    def put_s3(body: S3StorageIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Admin only: set the project's own S3 target field by field; fields not sent are kept."""
        a.principal.require_unscoped("set where a project's backups go; it needs an unscoped token")
        given = body.model_dump(exclude_unset=True)
        data = StorageUpdate(**{f's3_{k}': v for k, v in given.items()})
        with ctx.unit(a.principal, 'storage.s3.update', project_id=a.project.id, payload=given) as u:
            p = projects.update_storage(
                u.session,
                a.project.slug,
                data,
                data_dir=deps.data_dir,
                allow_link_local=deps.options.allow_link_local_urls,
            )
        return {'ok': True, 'updated': 's3', 'storage': storage(p)}

    return router
