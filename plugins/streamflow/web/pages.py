"""HTML pages of the Streamflow app (server-side templates, a little JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from streamflow.web.app import TEMPLATES_DIR
from streamflow.web.security import csrf_token

router = APIRouter()
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"csrf_token": csrf_token(request)})
