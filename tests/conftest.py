"""Shared fixtures: a pinned environment, databases (SQLite and PostgreSQL), the replay server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

# Airflow reads its configuration when first imported: give the whole session its own home and
# metadata database before anything imports it (nothing from ~/airflow leaks in).
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="streamflow-test-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from streamflow.testing.replay import ReplayServer

POSTGRES_URL = os.environ.get("STREAMFLOW_TEST_POSTGRES_URL")

# Connection ids of the services (docs/architecture.md#configuration).
SERVICE_CONNECTIONS = ("usgs_waterdata", "eccc_datamart", "eccc_wateroffice", "noaa_nwps")


@pytest.fixture(autouse=True)
def pinned_environment(tmp_path_factory, monkeypatch) -> Iterator[None]:
    """Nothing from a developer's shell leaks in: no real connections, no real database."""
    for name in list(os.environ):
        if name.startswith("AIRFLOW_CONN_") or name == "STREAMFLOW_DATABASE_URL":
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("streamflow_home")
    monkeypatch.setenv("STREAMFLOW_HOME", str(home))
    monkeypatch.setenv("STREAMFLOW_SNAPSHOT_PATH", str(home / "configurations_snapshot.json"))
    monkeypatch.setenv("TZ", "America/Denver")  # a non-UTC local zone catches naive-time bugs
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _postgres_database(prefix: str) -> str:
    """Create a fresh database next to STREAMFLOW_TEST_POSTGRES_URL and return its URL."""
    base = make_url(POSTGRES_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request, tmp_path) -> Iterator[str]:
    """A URL to a fresh, empty database (no schema) of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'streamflow.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("STREAMFLOW_TEST_POSTGRES_URL is not set")
    url = _postgres_database("sf_test")
    yield url
    from streamflow.db.engine import dispose_engines

    dispose_engines()
    _drop_postgres_database(url)


@pytest.fixture
def db_url(empty_db_url, monkeypatch) -> str:
    """A fresh database of each kind, migrated to head, and STREAMFLOW_DATABASE_URL pointing at it."""
    from streamflow.db import migrate
    from streamflow.db.engine import make_engine

    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", empty_db_url)
    return empty_db_url


@pytest.fixture
def engine(db_url):
    from streamflow.db.engine import dispose_engines, get_engine

    yield get_engine(db_url)
    dispose_engines()


@pytest.fixture
def session(engine):
    """A session whose caller commits (repository functions never commit)."""
    from sqlalchemy.orm import Session

    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture
def replay(monkeypatch) -> Iterator[ReplayServer]:
    """A running replay server with every service connection pointed at it."""
    with ReplayServer() as server:
        for conn_id in SERVICE_CONNECTIONS:
            conn = {"conn_type": "http", "host": server.url}
            if conn_id == "usgs_waterdata":
                conn["extra"] = {"retries": 0}  # every retry is Airflow's (no library sleeps in tests)
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        yield server


POOLS = {"usgs_api": 4, "eccc_api": 4, "noaa_api": 4}


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Airflow's own metadata database (SQLite, migrated once per session) with our pools."""
    airflow = [sys.executable, "-m", "airflow"]
    env = dict(os.environ)
    subprocess.run([*airflow, "db", "migrate"], check=True, env=env, capture_output=True, timeout=600)
    pools = Path(_AIRFLOW_HOME) / "pools.json"
    pools.write_text(json.dumps({name: {"slots": slots, "description": f"streamflow {name}"} for name, slots in POOLS.items()}))
    subprocess.run([*airflow, "pools", "import", str(pools)], check=True, env=env, capture_output=True, timeout=300)
    return _AIRFLOW_HOME


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
