"""The read API at ``/streamflow/api/v1``: stations, observations, forecasts (no writes).

Its OpenAPI document is served at ``/streamflow/api/v1/openapi.json`` to authenticated users only.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from streamflow.web.security import read_access

API_SERVER_URL = "/streamflow/api/v1"


def create_api_app() -> FastAPI:
    api = FastAPI(
        title="Streamflow read API",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        servers=[{"url": API_SERVER_URL}],
        dependencies=[read_access],
    )

    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return api.openapi()

    return api
