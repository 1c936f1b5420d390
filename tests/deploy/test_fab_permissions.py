"""The Streamflow pages and read API under the production auth manager (FAB), on a real API server.

``airflow api-server`` runs as a process on loopback with ``FabAuthManager`` (as docker/airflow.env
sets it), initialised by docker/init.sh (Airflow's metadata database with FAB's tables, the
streamflow database, the admin user); the metadata and streamflow databases are SQLite files.
Users with FAB's built-in roles Viewer, User and Op are created through FAB's REST API by the
admin, and every request carries a real JWT from ``/auth/token`` — as a bearer header, or as the
``_token`` cookie the UI uses (then with the CSRF proof of ``streamflow.web.security``).

What it shows (docs/adr/0014-web-security.md, docs/operations.md "Users and roles"):
* anonymous: 401 on every page, static file and API route, and on the API's OpenAPI document;
* Viewer: reads (200) but every write is refused with 403 — by bearer token, and by cookie with a
  valid CSRF token, so the refusal is the permission, not CSRF — and nothing changes;
* User and Op: create a configuration, then disable it; the rows change in the streamflow database;
* a cross-site cookie write (foreign Origin) is refused even for a user who may edit.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import warnings
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.deploy.test_airflow_e2e import BIN, AirflowStack, _environment, _free_port, _group_alive

pytestmark = pytest.mark.slow

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ADMIN = "admin"
ROLES = ("Viewer", "User", "Op")
STATION = "01646500"  # in data/master_stations.csv
START_TIMEOUT = 180.0
# Every page carries the session's CSRF token for its scripts (<body data-csrf=...>).
CSRF_IN_PAGE = re.compile(r'data-csrf="([0-9a-f]{64})"')
CUSTOM = "EditsConfig1"
CUSTOM_ROLE = """
import logging, sys
logging.disable(logging.WARNING)
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    role = sm.add_role("EditsConfig1")
    sm.add_permission_to_role(role, sm.create_permission("can_edit", "DAG:streamflow_config_1"))
    assert sm.add_user("sf_one_dag", "One", "Dag", "sf_one_dag@example.org", role, sys.argv[1])
"""
PERMISSION_REFUSED = "editing pull configurations needs DAG edit permission"


class FabServer:
    """The running API server, its users' JWTs and the streamflow database."""

    def __init__(self, stack: AirflowStack, tokens: dict[str, str], config_id: int) -> None:
        self.stack = stack
        self.base_url = stack.base_url
        self.tokens = tokens
        self.config_id = config_id  # created by the admin; the target of the refused writes

    def get(self, path: str, role: str | None = None, **kwargs) -> requests.Response:
        return self.request("GET", path, role, **kwargs)

    def request(self, method: str, path: str, role: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return requests.request(method, f"{self.base_url}{path}", headers={**headers, **kwargs.pop("headers", {})},
                                allow_redirects=False, timeout=60, **kwargs)

    def cookie_session(self, role: str) -> requests.Session:
        """A browser-like session: the JWT in the ``_token`` cookie, no Authorization header."""
        session = requests.Session()
        session.cookies.set("_token", self.tokens[role], domain="127.0.0.1", path="/")
        return session

    def rows(self, sql: str) -> list[tuple]:
        engine = create_engine(self.stack.streamflow_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(sql))]
        finally:
            engine.dispose()

    def configurations(self) -> list[tuple]:
        return self.rows("SELECT id, name, is_enabled FROM pull_configurations ORDER BY id")


def _form(name: str, **extra: str) -> dict[str, str]:
    return {
        "name": name, "description": "FAB permission test", "data_type": "daily_mean", "data_strategy": "append",
        "pull_start_date": (date.today() - timedelta(days=30)).isoformat(), "schedule_type": "manual",
        "schedule_value": "", "is_enabled": "on", "stations": STATION, **extra,
    }


def _token(base_url: str, username: str, password: str) -> str:
    response = requests.post(f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def fab(tmp_path_factory) -> Iterator[FabServer]:
    home = tmp_path_factory.mktemp("fab_permissions")
    (home / "logs").mkdir()
    streamflow_url = f"sqlite:///{home / 'streamflow' / 'streamflow.db'}"
    port = _free_port()
    env = _environment(home, port, "http://127.0.0.1:9", streamflow_url)  # no upstream service is called
    for key in ("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"):
        env.pop(key)
    admin_password = secrets.token_urlsafe(16)
    env.update({
        "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "STREAMFLOW_ADMIN_PASSWORD": admin_password,
        "STREAMFLOW_POOLS": "usgs_api=1",
    })
    stack = AirflowStack(f"http://127.0.0.1:{port}", streamflow_url, env, None, home / "logs")  # type: ignore[arg-type]
    init = stack.initialise()
    assert f"user '{ADMIN}' (Admin): created" in init.stderr
    # A custom role that may edit one configuration's DAG only (the first configuration, made below).
    editor_password = secrets.token_urlsafe(12)
    custom = subprocess.run([str(BIN / "python"), "-c", CUSTOM_ROLE, editor_password], env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert custom.returncode == 0, custom.stderr

    try:
        stack.start("api-server", "api-server")
        stack.wait_for("the API server", lambda: requests.get(f"{stack.base_url}/api/v2/monitor/health",
                                                              timeout=5).ok, START_TIMEOUT)
        tokens = {"Admin": _token(stack.base_url, ADMIN, admin_password)}
        for role in ROLES:
            username, password = f"sf_{role.lower()}", secrets.token_urlsafe(12)
            created = requests.post(f"{stack.base_url}/auth/fab/v1/users", timeout=60,
                                    headers={"Authorization": f"Bearer {tokens['Admin']}"},
                                    json={"username": username, "email": f"{username}@example.org",
                                          "first_name": role, "last_name": "Tester",
                                          "roles": [{"name": role}], "password": password})
            assert created.status_code == 200, created.text
            tokens[role] = _token(stack.base_url, username, password)
        tokens[CUSTOM] = _token(stack.base_url, "sf_one_dag", editor_password)
        server = FabServer(stack, tokens, 0)
        made = server.request("POST", "/streamflow/configurations", "Admin", data=_form("admin's configuration"))
        assert made.status_code == 303, made.text
        server.config_id = int(re.search(r"/configurations/(\d+)", made.headers["location"]).group(1))
        assert server.config_id == 1  # the DAG the custom role may edit
        yield server
    finally:
        killed = stack.stop()
        if killed:
            warnings.warn(f"{', '.join(killed)} needed SIGKILL after 30 s of SIGTERM", stacklevel=1)
        assert [name for name, proc in stack.processes.items() if _group_alive(proc.pid)] == []


def _routes(config_id: int) -> dict[str, list[str]]:
    pages = ["/streamflow/", "/streamflow/health", "/streamflow/configurations/new",
             f"/streamflow/configurations/{config_id}", f"/streamflow/configurations/{config_id}/edit",
             f"/streamflow/configurations/{config_id}/delete", f"/streamflow/configurations/{config_id}/hydrograph",
             "/streamflow/stations/search?q=potomac"]
    static = ["/streamflow/static/streamflow.css", "/streamflow/static/streamflow.js"]
    api = ["/streamflow/api/v1/openapi.json", "/streamflow/api/v1/stations",
           f"/streamflow/api/v1/stations/{STATION}", f"/streamflow/api/v1/stations/{STATION}/observations",
           f"/streamflow/api/v1/stations/{STATION}/forecasts",
           f"/streamflow/api/v1/stations/{STATION}/forecasts/latest", "/streamflow/api/v1/forecasts/1"]
    return {"pages": pages, "static": static, "api": api}


def _writes(config_id: int) -> list[tuple[str, dict[str, str]]]:
    """Every write route of streamflow.web.pages with a valid form."""
    return [
        ("/streamflow/configurations", _form("viewer's configuration")),
        (f"/streamflow/configurations/{config_id}", _form("renamed by a viewer")),
        (f"/streamflow/configurations/{config_id}/enabled", {"enabled": "false"}),
        (f"/streamflow/configurations/{config_id}/enabled", {"enabled": "true"}),
        (f"/streamflow/configurations/{config_id}/clone", {}),
        (f"/streamflow/configurations/{config_id}/delete", {"confirm": "delete"}),
    ]


def test_anonymous_is_refused_everywhere(fab):
    refused: dict[str, int] = {}
    for group, paths in _routes(fab.config_id).items():
        for path in paths:
            response = fab.get(path)
            refused[path] = response.status_code
            assert response.status_code == 401, (group, path, response.status_code, response.text[:200])
    for path, form in _writes(fab.config_id):
        assert fab.request("POST", path, data=form).status_code == 401, path
    assert len(refused) == 17
    # A made-up JWT is no user either (Airflow answers an undecodable token with 403).
    forged = fab.get("/streamflow/", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 403 and "Invalid JWT token" in forged.text


def test_a_viewer_reads(fab):
    for path in ("/streamflow/", "/streamflow/health", f"/streamflow/configurations/{fab.config_id}",
                 "/streamflow/static/streamflow.css", "/streamflow/api/v1/stations?limit=5",
                 "/streamflow/api/v1/openapi.json"):
        response = fab.get(path, "Viewer")
        assert response.status_code == 200, (path, response.text[:300])
    listed = fab.get("/streamflow/", "Viewer").text
    assert "admin&#39;s configuration" in listed or "admin's configuration" in listed
    stations = fab.get(f"/streamflow/api/v1/stations?text={STATION}", "Viewer").json()
    assert [s["station_number"] for s in stations["stations"]] == [STATION]
    assert fab.get("/streamflow/api/v1/openapi.json", "Viewer").json()["info"]["title"]


def test_a_viewer_cannot_write_by_token_or_by_cookie(fab):
    before = fab.configurations()
    for path, form in _writes(fab.config_id):
        response = fab.request("POST", path, "Viewer", data=form)
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
        assert PERMISSION_REFUSED in response.text, path

    # The browser way: cookie + same Origin + the CSRF token of the Viewer's own session, taken from
    # the page. Still refused: the Viewer lacks the permission, the proof is fine.
    browser = fab.cookie_session("Viewer")
    page = browser.get(f"{fab.base_url}/streamflow/configurations/{fab.config_id}", timeout=60)
    assert page.status_code == 200
    assert 'name="csrf_token"' not in page.text  # no edit buttons are offered to a Viewer
    csrf = CSRF_IN_PAGE.search(page.text).group(1)
    for path, form in _writes(fab.config_id):
        response = browser.post(f"{fab.base_url}{path}", data={**form, "csrf_token": csrf},
                                headers={"Origin": fab.base_url}, allow_redirects=False, timeout=60)
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
        assert PERMISSION_REFUSED in response.text, path
    assert fab.configurations() == before  # nothing written


@pytest.mark.parametrize("role", ["User", "Op"])
def test_user_and_op_create_then_disable_a_configuration(fab, role):
    name = f"made by {role}"
    created = fab.request("POST", "/streamflow/configurations", role, data=_form(name))
    assert created.status_code == 303, created.text[:500]
    config_id = int(re.search(r"/configurations/(\d+)\?", created.headers["location"]).group(1))
    assert fab.rows(f"SELECT name, is_enabled FROM pull_configurations WHERE id = {config_id}") == [(name, 1)]
    assert fab.rows(f"SELECT station_number FROM pull_configuration_stations WHERE config_id = {config_id}") \
        == [(STATION,)]

    # Disabled from the browser: cookie, same Origin, the session's CSRF token from the page.
    browser = fab.cookie_session(role)
    page = browser.get(f"{fab.base_url}/streamflow/configurations/{config_id}", timeout=60)
    assert 'name="csrf_token"' in page.text  # the enable/disable and delete buttons are offered
    csrf = CSRF_IN_PAGE.search(page.text).group(1)
    disabled = browser.post(f"{fab.base_url}/streamflow/configurations/{config_id}/enabled",
                            data={"enabled": "false", "csrf_token": csrf}, headers={"Origin": fab.base_url},
                            allow_redirects=False, timeout=60)
    assert disabled.status_code == 303, disabled.text[:500]
    assert fab.rows(f"SELECT is_enabled FROM pull_configurations WHERE id = {config_id}") == [(0,)]


def test_cross_site_cookie_write_is_refused_even_for_an_editor(fab):
    before = fab.configurations()
    browser = fab.cookie_session("Op")
    page = browser.get(f"{fab.base_url}/streamflow/configurations/{fab.config_id}", timeout=60)
    csrf = CSRF_IN_PAGE.search(page.text).group(1)
    for origin in ("https://evil.example", None):  # a foreign page; a request with no Origin/Referer
        headers = {"Origin": origin} if origin else {}
        response = browser.post(f"{fab.base_url}/streamflow/configurations/{fab.config_id}/enabled",
                                data={"enabled": "false"}, headers=headers, allow_redirects=False, timeout=60)
        assert response.status_code == 403, response.text[:200]
        assert "cross-site request refused" in response.text
    # Same origin but no token (the attacker cannot read it): refused as well.
    response = browser.post(f"{fab.base_url}/streamflow/configurations/{fab.config_id}/enabled",
                            data={"enabled": "false"}, headers={"Origin": fab.base_url},
                            allow_redirects=False, timeout=60)
    assert response.status_code == 403 and "CSRF token missing or wrong" in response.text
    # Someone else's token does not fit this session either.
    other = fab.cookie_session("User").get(f"{fab.base_url}/streamflow/configurations/{fab.config_id}", timeout=60)
    foreign = CSRF_IN_PAGE.search(other.text).group(1)
    assert foreign != csrf
    response = browser.post(f"{fab.base_url}/streamflow/configurations/{fab.config_id}/enabled",
                            data={"enabled": "false", "csrf_token": foreign}, headers={"Origin": fab.base_url},
                            allow_redirects=False, timeout=60)
    assert response.status_code == 403
    assert fab.configurations() == before


def test_admin_deletes_and_viewer_still_cannot(fab):
    made = fab.request("POST", "/streamflow/configurations", "Admin", data=_form("to delete"))
    config_id = int(re.search(r"/configurations/(\d+)\?", made.headers["location"]).group(1))
    refused = fab.request("POST", f"/streamflow/configurations/{config_id}/delete", "Viewer",
                          data={"confirm": "delete"})
    assert refused.status_code == 403
    deleted = fab.request("POST", f"/streamflow/configurations/{config_id}/delete", "Admin",
                          data={"confirm": "delete"})
    assert deleted.status_code == 303, deleted.text[:300]
    assert fab.rows(f"SELECT id FROM pull_configurations WHERE id = {config_id}") == []


def test_a_role_with_edit_on_one_configuration_dag_edits_that_one_only(fab):
    """FAB per-DAG permission ``can_edit`` on ``DAG:streamflow_config_1`` (no DAG of that id exists
    here): that configuration may be changed; another, or a new one (no DAG id yet, also a clone), may not."""
    other = fab.request("POST", "/streamflow/configurations", "Admin", data=_form("not yours"))
    other_id = int(re.search(r"/configurations/(\d+)\?", other.headers["location"]).group(1))
    before = fab.configurations()

    assert fab.get("/streamflow/", CUSTOM).status_code == 200  # reading needs a user only
    refused_new = fab.request("POST", "/streamflow/configurations", CUSTOM, data=_form("new by custom role"))
    assert refused_new.status_code == 403 and PERMISSION_REFUSED in refused_new.text
    refused_other = fab.request("POST", f"/streamflow/configurations/{other_id}/enabled", CUSTOM,
                                data={"enabled": "false"})
    assert refused_other.status_code == 403 and PERMISSION_REFUSED in refused_other.text
    # A clone is a new configuration (a new DAG): not even its own configuration may be cloned.
    refused_clone = fab.request("POST", f"/streamflow/configurations/{fab.config_id}/clone", CUSTOM)
    assert refused_clone.status_code == 403 and PERMISSION_REFUSED in refused_clone.text
    assert fab.configurations() == before
    # The detail page offers it the edit controls of its own configuration, but no Clone button.
    detail = fab.get(f"/streamflow/configurations/{fab.config_id}", CUSTOM)
    assert detail.status_code == 200 and 'id="toggle-enabled"' in detail.text
    assert f"/configurations/{fab.config_id}/clone" not in detail.text

    allowed = fab.request("POST", f"/streamflow/configurations/{fab.config_id}", CUSTOM,
                          data=_form("renamed by its DAG editor"))
    assert allowed.status_code == 303, allowed.text[:300]
    assert fab.rows(f"SELECT name FROM pull_configurations WHERE id = {fab.config_id}") \
        == [("renamed by its DAG editor",)]
