"""Image and thumbnail routes for galleries: files are served only through their project and asset id."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import FileResponse
from nicegui import app, run

from services.deps import Deps
from services.errors import KromaError
from services.projects import assets, projects


def register(deps: Deps) -> None:
    def _locate(slug: str, asset_id: str) -> tuple:
        try:
            with deps.sessions() as s:
                project = projects.get_project(s, slug)
                asset = assets.read(assets.get_asset(s, project.id, asset_id))
        except KromaError as e:
            raise HTTPException(status_code=e.status, detail=e.user_message) from e
        return project, asset

    @app.get('/media/{slug}/{asset_id}', include_in_schema=False)
    async def media(slug: str, asset_id: str) -> FileResponse:
        project, asset = _locate(slug, asset_id)
        return FileResponse(
            deps.store.path_of(project, asset),
            media_type=None,
            headers={'Cache-Control': 'private, max-age=31536000, immutable'},
        )

    @app.get('/media/{slug}/{asset_id}/thumb', include_in_schema=False)
    async def thumb(slug: str, asset_id: str) -> FileResponse:
        project, asset = _locate(slug, asset_id)
        path = await run.io_bound(deps.store.thumb_path, project, asset)
        return FileResponse(
            path, media_type='image/webp', headers={'Cache-Control': 'private, max-age=31536000, immutable'}
        )
