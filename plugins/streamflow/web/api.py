"""The read API at ``/streamflow/api/v1``: stations, observations, forecasts (no writes).

Its OpenAPI document is served at ``/streamflow/api/v1/openapi.json`` to authenticated users only.
Routes live in ``streamflow.web.api_routes``, response models in ``streamflow.web.api_models``,
parameter parsing in ``streamflow.web.api_params``; the SQL in ``streamflow.db.read``. Every error
is a problem body (RFC 9457, ``application/problem+json``) naming the parameter at fault:
400 for a value that cannot be understood (interval, cursor, bbox), 422 for a value outside its
declared schema (unknown ``type``, ``limit`` over the maximum), 404 for an unknown station or
forecast, 401 without an authenticated Airflow user. Reference: docs/api.md, docs/adr/0015-read-api.md.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from streamflow.web.api_models import Problem
from streamflow.web.api_params import INVALID_PARAMETER, ApiProblem
from streamflow.web.security import read_access

API_SERVER_URL = "/streamflow/api/v1"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_STATUSES = ("400", "401", "404", "422")
DESCRIPTION = """Observed and forecast river discharge stored by Streamflow DataOps, read-only.

Every request needs an authenticated Airflow user: `Authorization: Bearer <token>` (a token from
Airflow's `POST /auth/token`) or the Airflow UI's session cookie. Instants and intervals are RFC 3339
(`datetime=2024-01-01T00:00:00Z/2024-02-01T00:00:00Z`, `..` or nothing for an open end); both ends
of an interval are inclusive. Pages are keyset pages: follow the `next` link (in the body's `links`
and in the `Link` header) until there is none. Errors are `application/problem+json` bodies naming
the parameter at fault.
"""


def _problem(status: int, title: str, detail: str, *, parameter: str | None = None, type_: str = "about:blank",
             headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, "parameter": parameter}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _on_problem(_request: Request, exc: ApiProblem) -> JSONResponse:
    return _problem(exc.status, exc.title, exc.detail, parameter=exc.parameter, type_=exc.type)


async def _on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header", "body")]
    parameter = loc[0] if loc else None
    value = first.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) and len(str(value)) <= 120 else ""
    detail = f"{parameter}: {first.get('msg', 'invalid value')}{shown}" if parameter else "invalid request"
    return _problem(422, "Invalid parameter", detail, parameter=parameter, type_=INVALID_PARAMETER)


async def _on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    title = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else title
    return _problem(exc.status_code, title, detail, headers=dict(exc.headers or {}))


def _openapi(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error response declared as a problem body."""
    doc = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes,
                      servers=api.servers)
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in PROBLEM_STATUSES:
                description = responses.get(status, {}).get("description") or HTTPStatus(int(status)).phrase
                responses[status] = {"description": description, "content": {PROBLEM_MEDIA_TYPE: problem}}
            operation["security"] = [{"bearer": []}, {"cookie": []}]
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    doc["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "A token from Airflow's POST /auth/token"},
        "cookie": {"type": "apiKey", "in": "cookie", "name": "_token", "description": "The Airflow UI's session"},
    }
    return doc


def create_api_app() -> FastAPI:
    from streamflow.web import api_routes

    api = FastAPI(
        title="Streamflow read API",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        servers=[{"url": API_SERVER_URL}],
        dependencies=[read_access],
    )
    api.add_exception_handler(ApiProblem, _on_problem)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    api.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    api.include_router(api_routes.router)
    document: dict[str, Any] = {}

    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        if not document:
            document.update(_openapi(api))
        return document

    return api
