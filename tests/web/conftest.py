"""The Streamflow plugin app inside Airflow's real API app, with a JWT per role.

Built the way Airflow's own API tests do it: a migrated metadata database, the app from
``airflow.api_fastapi.app.create_app()`` (which mounts every plugin's FastAPI app, ours through its
entry point), and tokens minted by the auth manager for one user per SimpleAuthManager role.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

ROLES = ("viewer", "user", "op", "admin")
AUTH_ENV = {
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{r}:{r}" for r in ROLES),
    "AIRFLOW__API_AUTH__JWT_SECRET": "streamflow-test-jwt-secret-0123456789abcdef0123456789abcdef0123456789abcdef",
    "AIRFLOW__API__SECRET_KEY": "streamflow-test-secret-key",
}
BASE_URL = "http://127.0.0.1:8080"  # the Host the test client sends; CSRF checks compare Origin with it


@pytest.fixture(scope="session")
def airflow_app(airflow_db):
    os.environ.update(AUTH_ENV)
    from airflow.api_fastapi.app import create_app, purge_cached_app

    purge_cached_app()
    app = create_app()
    yield app
    purge_cached_app()


@pytest.fixture(scope="session")
def tokens(airflow_app) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = get_auth_manager()
    return {role: manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role)) for role in ROLES}


@pytest.fixture
def client(airflow_app, db_url) -> Iterator:
    """A test client against Airflow's app; the streamflow database is a fresh migrated one."""
    from fastapi.testclient import TestClient

    with TestClient(airflow_app, base_url=BASE_URL) as c:
        yield c


def as_role(client, tokens, role: str):
    """Authenticate ``client`` like the browser does: the UI's ``_token`` cookie."""
    client.cookies.set("_token", tokens[role])
    return client


def bearer(tokens, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}
