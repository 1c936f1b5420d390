"""Who may see and change what through the Streamflow app (docs/adr/0014-web-security.md).

Airflow does not authenticate plugin apps: a mounted FastAPI app inherits none of the API server's
dependencies. So every route of ours depends on ``read_access`` (an authenticated Airflow user:
JWT bearer header or the UI's ``_token`` cookie) and every write on ``edit_access`` (the auth
manager's DAG edit permission, ``PUT`` on the configuration's DAG, plus a CSRF proof when the
request is authenticated by the cookie, which a browser sends on its own).

CSRF proof: the request's ``Origin`` (or ``Referer``) must be this server, and the request must
carry the token ``csrf_token(request)`` — in the ``X-CSRF-Token`` header (``fetch()``) or in the
``csrf_token`` form field (HTML forms). The token is an HMAC of the session cookie under the API
server's ``[api] secret_key``: a cross-site page can neither read nor compute it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_authenticated
from fastapi import Depends, HTTPException, Request, status

from streamflow.configurations import dag_id_for

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Every route: an authenticated Airflow user (401 otherwise).
read_access = Depends(requires_authenticated())


def _secret() -> bytes:
    from airflow.configuration import conf

    return (conf.get("api", "secret_key", fallback="") or "streamflow-no-secret").encode()


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser session ('' when the request has no session cookie)."""
    cookie = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not cookie:
        return ""
    return hmac.new(_secret(), cookie.encode(), hashlib.sha256).hexdigest()


def _bearer(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    return header.lower().startswith("bearer ")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return False
    here = request.headers.get("host", "")
    return urlsplit(origin).netloc == here


async def check_csrf(request: Request) -> None:
    """Refuse a cookie-authenticated unsafe request without the same-origin + token proof."""
    if request.method in SAFE_METHODS or _bearer(request):
        return  # a bearer token is never sent by the browser on its own
    if not _same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused (Origin is not this server)")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = csrf_token(request)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or wrong; reload the page and try again")


def can_edit(user: BaseUser, config_id: int | None = None) -> bool:
    """DAG edit permission: on the configuration's DAG, or on DAGs in general for a new one (or a clone)."""
    dag_id = dag_id_for(config_id) if config_id is not None else None
    return get_auth_manager().is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user)


async def edit_access(request: Request, user: GetUserDep) -> BaseUser:
    """Dependency of every write: DAG edit rights (403 otherwise) and the CSRF proof."""
    raw = request.path_params.get("config_id")
    config_id = int(raw) if isinstance(raw, str) and raw.isdigit() else None
    if request.url.path.endswith("/clone"):
        config_id = None  # a clone is a new configuration (a new DAG): edit on DAGs in general
    if not can_edit(user, config_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "editing pull configurations needs DAG edit permission")
    await check_csrf(request)
    return user


EditUser = Annotated[BaseUser, Depends(edit_access)]
