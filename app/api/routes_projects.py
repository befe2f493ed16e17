"""Projects and their storage: create (never an upsert), patch without blanking, archive, delete with confirm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from app.api.auth import Access, ApiContext, Principal
from app.api.crud_routes import without_nulls
from app.api.errors import EnvelopeRoute
from models.project import (
    LocalStorageUpdate,
    ProjectArchive,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
    S3StorageUpdate,
)
from services.errors import Invalid, PolicyRefused
from services.projects import projects

P = '/api/projects/{slug}'


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
    def create_project(body: ProjectCreate, who: Principal = Depends(ctx.unscoped)) -> dict[str, Any]:
        """A new project (needs an unscoped token); an existing slug is a 409, never an overwrite."""
        with ctx.unit(who, 'project.create', project_id=None, payload={'slug': body.slug}) as u:
            p = projects.create_project(u.session, body, data_dir=deps.data_dir)
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
    def update_project(body: ProjectUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Only the fields sent change; an omitted field keeps its value."""
        fields = sorted(body.model_fields_set)
        with ctx.unit(a.principal, 'project.update', project_id=a.project.id, payload={'fields': fields}) as u:
            p = projects.update_project(u.session, a.project.slug, without_nulls(body))
        return {'ok': True, 'project': jsonable_encoder(p)}

    @router.post(P + '/archive')
    def archive_project(body: ProjectArchive, a: Access = Depends(ctx.access)) -> dict[str, Any]:
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
    def put_local(body: LocalStorageUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Admin only: move the project's files root (its own writable folder); "" returns to the data dir."""
        a.principal.require_unscoped("change where a project's files live; it needs an unscoped token")
        if body.project_root:
            allowed_root(body.project_root)
        given = body.model_dump(exclude_unset=True, exclude={'move'})
        with ctx.unit(a.principal, 'storage.local.update', project_id=a.project.id, payload=given) as u:
            p = projects.update_storage(
                u.session,
                a.project.slug,
                body.storage_update(),
                data_dir=deps.data_dir,
                db_path=deps.options.db_path,
                move=body.move,
            )
        return {'ok': True, 'updated': 'local', 'storage': storage(p)}

    @router.put(P + '/storage/s3', tags=['storage'])
    def put_s3(body: S3StorageUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Admin only: set the project's own S3 target field by field; fields not sent are kept."""
        a.principal.require_unscoped("set where a project's backups go; it needs an unscoped token")
        given = body.model_dump(exclude_unset=True)
        with ctx.unit(a.principal, 'storage.s3.update', project_id=a.project.id, payload=given) as u:
            p = projects.update_storage(
                u.session,
                a.project.slug,
                body.storage_update(),
                data_dir=deps.data_dir,
                allow_link_local=deps.options.allow_link_local_urls,
            )
        return {'ok': True, 'updated': 's3', 'storage': storage(p)}

    return router
