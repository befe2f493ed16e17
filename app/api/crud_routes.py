"""One place for the plain list/create/get/update/delete routes of a project-owned resource."""

# no `from __future__ import annotations`: FastAPI reads the body types from the closures' real annotations
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from app.api.auth import Access, ApiContext

M = TypeVar('M', bound=BaseModel)


def without_nulls(body: M) -> M:
    """Fields sent explicitly as null count as not sent: a PATCH never blanks a field by accident."""
    given = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return type(body).model_validate(given)


def add_crud_routes(
    router: APIRouter,
    ctx: ApiContext,
    *,
    path: str,
    singular: str,
    plural: str,
    tag: str,
    create_model: type[BaseModel],
    update_model: type[BaseModel],
    list_fn: Callable,
    get_fn: Callable,
    create_fn: Callable,
    update_fn: Callable,
    delete_fn: Callable,
) -> None:
    """Five routes with the API's shapes: lists {ok, count, <plural>}, items {ok, <singular>}, creates 201, audited writes.

    The bodies are the services' own Create / Update models (models/), handed to the services as they are.
    """
    sessions = ctx.deps.sessions
    item = path + '/{item_id}'

    def list_items(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = list_fn(s, a.project.id)
        return {'ok': True, 'count': len(rows), plural: jsonable_encoder(rows)}

    def create_item(body: create_model, a: Access = Depends(ctx.access)) -> dict[str, Any]:  # type: ignore[valid-type]
        with ctx.unit(a.principal, f'{singular}.create', project_id=a.project.id) as u:
            row = create_fn(u.session, a.project.id, body)
        return {'ok': True, singular: jsonable_encoder(row)}

    def get_item(item_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = get_fn(s, a.project.id, item_id)
        return {'ok': True, singular: jsonable_encoder(row)}

    def update_item(item_id: str, body: update_model, a: Access = Depends(ctx.access)) -> dict[str, Any]:  # type: ignore[valid-type]
        with ctx.unit(a.principal, f'{singular}.update', project_id=a.project.id) as u:
            row = update_fn(u.session, a.project.id, item_id, without_nulls(body))
        return {'ok': True, singular: jsonable_encoder(row)}

    def delete_item(item_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, f'{singular}.delete', project_id=a.project.id) as u:
            delete_fn(u.session, a.project.id, item_id)
        return {'ok': True, 'deleted': True, 'id': item_id}

    router.add_api_route(path, list_items, methods=['GET'], name=f'list_{plural}', tags=[tag])
    router.add_api_route(path, create_item, methods=['POST'], status_code=201, name=f'create_{singular}', tags=[tag])
    router.add_api_route(item, get_item, methods=['GET'], name=f'get_{singular}', tags=[tag])
    router.add_api_route(item, update_item, methods=['PATCH'], name=f'update_{singular}', tags=[tag])
    router.add_api_route(item, delete_item, methods=['DELETE'], name=f'delete_{singular}', tags=[tag])
