"""The Streamflow FastAPI app the plugin mounts at ``/streamflow`` in Airflow's API server.

``create_app()`` wires three parts, each guarded by ``streamflow.web.security``:
* HTML pages (``streamflow.web.pages``) at ``/streamflow/…``;
* static files (CSS, the vendored chart library) at ``/streamflow/static/…``, also authenticated;
* the read API (``streamflow.web.api``) mounted at ``/streamflow/api/v1`` as its own app, so it
  has its own OpenAPI document (``/streamflow/api/v1/openapi.json``, authenticated).

Airflow's ``/docs`` and ``/openapi.json`` defaults are switched off: FastAPI would serve them
without the app's dependencies.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from streamflow.web.security import read_access

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
MOUNT_PREFIX = "/streamflow"
API_PREFIX = "/api/v1"


def _static_file(name: str) -> FileResponse:
    path = (STATIC_DIR / name).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


def create_app() -> FastAPI:
    from streamflow.web import api, pages

    app = FastAPI(
        title="Streamflow",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[read_access],
    )
    app.add_api_route("/static/{name:path}", _static_file, methods=["GET"], include_in_schema=False)
    app.include_router(pages.router)
    app.mount(API_PREFIX, api.create_api_app())
    return app
