"""One error envelope for the API: {ok: false, error, error_kind, error_code} with the right HTTP status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import SHOWN_ERRORS, KromaError, describe_errors

log = logging.getLogger(__name__)

API_PREFIXES = ('/api/', '/auth/')
API_PATHS = {'/api', '/auth', '/health'}
INTERNAL = 'Internal server error'
CONFLICT = 'That conflicts with an existing record (a name or key that must be unique); nothing was changed.'
HTTP_CODES = {
    400: ('validation', 'bad_request'),
    401: ('auth', 'unauthorized'),
    403: ('auth', 'forbidden'),
    404: ('validation', 'not_found'),
    405: ('validation', 'method_not_allowed'),
    408: ('validation', 'body_timeout'),
    413: ('validation', 'payload_too_large'),
    415: ('validation', 'unsupported_media_type'),
}
Handler = Callable[[Request, Any], Awaitable[Response]]


def envelope(status: int, message: str, kind: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {'ok': False, 'error': message, 'error_kind': kind, 'error_code': code}
    return JSONResponse(body, status_code=status, headers=headers)


def kroma_response(e: KromaError) -> JSONResponse:
    headers = {'WWW-Authenticate': 'Bearer'} if e.status == 401 else None
    return JSONResponse(e.to_json(), status_code=e.status, headers=headers)


def internal_error() -> JSONResponse:
    return envelope(500, INTERNAL, 'infra', 'internal_error')


def is_api_path(path: str) -> bool:
    return path in API_PATHS or path.startswith(API_PREFIXES)


def body_model(route: Any) -> type[BaseModel] | None:
    """The route's JSON body model, so a validation error can name a field by its label."""
    params = getattr(getattr(route, 'dependant', None), 'body_params', None) or []
    annotation = getattr(getattr(params[0], 'field_info', None), 'annotation', None) if len(params) == 1 else None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def describe_validation(errors: list[dict[str, Any]], model: type[BaseModel] | None = None) -> tuple[int, str, str]:
    """Malformed JSON is a 400; a well-formed body that breaks the schema is a 422 naming each field by its label."""
    if any(err.get('type') == 'json_invalid' for err in errors):
        detail = next(err.get('ctx', {}).get('error', '') for err in errors if err.get('type') == 'json_invalid')
        return 400, f'Malformed JSON body{": " + detail if detail else ""}.', 'malformed_json'
    shown = []
    for err in errors:
        loc = tuple(err.get('loc', ()))
        in_body = loc[:1] == ('body',) and len(loc) > 1
        trimmed = {**err, 'loc': loc[1:] if in_body or loc[:1] in (('query',), ('path',), ('header',)) else loc}
        shown.append(describe_errors([trimmed], model if in_body else None))
    more = f' (and {len(shown) - SHOWN_ERRORS} more)' if len(shown) > SHOWN_ERRORS else ''
    return 422, ' '.join(shown[:SHOWN_ERRORS]) + more, 'validation_error'


class EnvelopeRoute(APIRoute):
    """Route class for every API route: typed errors map to the envelope, anything else is a logged, plain 500."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except KromaError as e:
                return kroma_response(e)
            except (StarletteHTTPException, RequestValidationError):
                raise
            except IntegrityError:
                log.warning('Integrity error in %s %s', request.method, request.url.path, exc_info=True)
                return envelope(409, CONFLICT, 'validation', 'conflict')
            except Exception:
                log.exception('Unhandled error in %s %s', request.method, request.url.path)
                return internal_error()

        return guarded


def install_error_handlers(app: FastAPI) -> None:
    """Map errors to the envelope for /api, /auth and /health; every other path keeps its own handling."""
    previous_404: Handler = getattr(
        app.exception_handlers.get(404), 'kroma_previous', None
    ) or app.exception_handlers.get(404, http_exception_handler)

    async def on_kroma_error(request: Request, e: Exception) -> Response:
        assert isinstance(e, KromaError)
        return kroma_response(e)

    async def on_validation_error(request: Request, e: Exception) -> Response:
        assert isinstance(e, RequestValidationError)
        if not is_api_path(request.url.path):
            return await request_validation_exception_handler(request, e)
        status, message, code = describe_validation(list(e.errors()), body_model(request.scope.get('route')))
        return envelope(status, message, 'validation', code)

    async def on_http_error(request: Request, e: Exception) -> Response:
        assert isinstance(e, StarletteHTTPException)
        if not is_api_path(request.url.path):
            if e.status_code == 404:
                return await previous_404(request, e)
            return await http_exception_handler(request, e)
        kind, code = HTTP_CODES.get(e.status_code, ('validation', 'http_error'))
        code = getattr(e, 'code', None) or code
        message = e.detail if isinstance(e.detail, str) else 'Request failed.'
        if e.status_code == 404 and message == 'Not Found':
            message = f'No such API route: {request.method} {request.url.path}.'
        return envelope(e.status_code, message, kind, code, getattr(e, 'headers', None))

    on_http_error.kroma_previous = previous_404  # type: ignore[attr-defined]
    app.add_exception_handler(KromaError, on_kroma_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(404, on_http_error)
