"""Every Streamflow route needs an authenticated Airflow user; writes need edit rights + CSRF."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import BASE_URL, as_role, bearer

READ_PATHS = ["/streamflow/", "/streamflow/api/v1/openapi.json", "/streamflow/static/streamflow.css"]


@pytest.mark.parametrize("path", READ_PATHS)
def test_anonymous_is_refused(client, path):
    response = client.get(path)
    assert response.status_code == 401, (path, response.status_code, response.text[:200])


@pytest.mark.parametrize("path", READ_PATHS)
def test_a_viewer_reads(client, tokens, path):
    response = client.get(path, headers=bearer(tokens, "viewer"))
    assert response.status_code == 200, (path, response.text[:200])


def test_openapi_document_is_ours(client, tokens):
    doc = client.get("/streamflow/api/v1/openapi.json", headers=bearer(tokens, "viewer")).json()
    assert doc["info"]["title"] == "Streamflow read API"
    assert doc["servers"] == [{"url": "/streamflow/api/v1"}]


def test_airflow_default_docs_are_not_served(client, tokens):
    # FastAPI's /docs and /openapi.json would skip the app's dependencies; they are switched off.
    for path in ("/streamflow/docs", "/streamflow/openapi.json", "/streamflow/api/v1/docs"):
        response = client.get(path, headers=bearer(tokens, "admin"))
        assert response.status_code == 404, path


def test_nav_entry_is_listed_by_airflow(client, tokens):
    plugins = client.get("/api/v2/plugins", headers=bearer(tokens, "admin")).json()["plugins"]
    ours = [p for p in plugins if p["name"] == "streamflow"]
    assert len(ours) == 1
    views = ours[0]["external_views"]
    assert views[0]["name"] == "Streamflow" and views[0]["url_route"] == "streamflow"
    assert views[0]["href"] == "/streamflow/" and views[0]["nav_top_level"] is True


def test_static_files_cannot_escape_their_folder(client, tokens):
    response = client.get("/streamflow/static/../security.py", headers=bearer(tokens, "admin"))
    assert response.status_code == 404


# --------------------------------------------------------------------------- the write guard itself


@pytest.fixture
def guarded(airflow_app, tokens):
    """A small app whose one write route uses our edit dependency (the pages' writes use the same)."""
    from streamflow.web.security import csrf_token, edit_access

    app = FastAPI()

    @app.post("/configurations/{config_id}/touch")
    def touch(config_id: int, user=Depends(edit_access)):
        return {"ok": True, "user": user.get_name()}

    @app.get("/token")
    def token(request: __import__("fastapi").Request):
        return {"token": csrf_token(request)}

    with TestClient(app, base_url=BASE_URL) as c:
        yield c


def _token(client) -> str:
    return client.get("/token").json()["token"]


def test_write_needs_edit_permission(guarded, tokens):
    as_role(guarded, tokens, "viewer")
    response = guarded.post("/configurations/1/touch", headers={"Origin": BASE_URL, "X-CSRF-Token": _token(guarded)})
    assert response.status_code == 403
    as_role(guarded, tokens, "user")
    response = guarded.post("/configurations/1/touch", headers={"Origin": BASE_URL, "X-CSRF-Token": _token(guarded)})
    assert response.status_code == 200 and response.json()["user"] == "user"


def test_cookie_write_without_csrf_proof_is_refused(guarded, tokens):
    as_role(guarded, tokens, "admin")
    token = _token(guarded)
    # cross-site: another Origin, even with a token
    assert guarded.post("/configurations/1/touch", headers={"Origin": "http://evil.example", "X-CSRF-Token": token}).status_code == 403
    # same origin but no token
    assert guarded.post("/configurations/1/touch", headers={"Origin": BASE_URL}).status_code == 403
    # a wrong token
    assert guarded.post("/configurations/1/touch", headers={"Origin": BASE_URL, "X-CSRF-Token": "0" * 64}).status_code == 403
    # the token in a form field works like the header
    ok = guarded.post("/configurations/1/touch", headers={"Origin": BASE_URL}, data={"csrf_token": token})
    assert ok.status_code == 200


def test_bearer_write_needs_no_csrf(guarded, tokens):
    guarded.cookies.clear()
    response = guarded.post("/configurations/1/touch", headers=bearer(tokens, "user"))
    assert response.status_code == 200
    assert guarded.post("/configurations/1/touch").status_code == 401
