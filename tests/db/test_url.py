"""Where the streamflow database is: ``STREAMFLOW_DATABASE_URL``, else the Airflow connection named
by the hook's ``conn_id``, else the embedded SQLite default (docs/adr/0010-database-url.md).

Connections are real Airflow connections given as ``AIRFLOW_CONN_*`` environment variables."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from streamflow.db.engine import dispose_engines, make_engine
from streamflow.db.url import resolve_database_url
from streamflow.hooks.streamflow_db import StreamflowDbHook

PASSWORD = "s3cr3t-Pa55word"
REPO = Path(__file__).resolve().parents[2]


def _json_conn(**fields) -> str:
    return json.dumps({"conn_type": "postgres", "host": "db.example", "port": 5432, "schema": "flows",
                       "login": "streamflow", "password": PASSWORD, **fields})


def test_default_is_the_sqlite_file_in_streamflow_home(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMFLOW_HOME", str(tmp_path / "home"))
    assert resolve_database_url() == f"sqlite:///{tmp_path / 'home' / 'streamflow.db'}"


def test_env_wins_over_connection_wins_over_default(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_STREAMFLOW_DB", _json_conn())
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert resolve_database_url() == f"sqlite:///{tmp_path / 'env.db'}"

    monkeypatch.delenv("STREAMFLOW_DATABASE_URL")
    assert resolve_database_url() == f"postgresql+psycopg://streamflow:{PASSWORD}@db.example:5432/flows"

    monkeypatch.delenv("AIRFLOW_CONN_STREAMFLOW_DB")
    assert resolve_database_url() == f"sqlite:///{tmp_path / 'streamflow.db'}"


@pytest.mark.parametrize(
    ("conn", "expected"),
    [
        # JSON form, with a password that needs quoting
        (_json_conn(password="p@ss/w#rd"), "postgresql+psycopg://streamflow:p%40ss%2Fw%23rd@db.example:5432/flows"),
        # URI forms, as Airflow documents them
        ("postgres://streamflow:pw@db.example:5432/flows", "postgresql+psycopg://streamflow:pw@db.example:5432/flows"),
        ("postgresql://streamflow:pw@db.example/flows?sslmode=require",
         "postgresql+psycopg://streamflow:pw@db.example/flows?sslmode=require"),
        # an explicit SQLAlchemy URL in the extra wins over the connection's fields
        (json.dumps({"conn_type": "postgres", "host": "ignored",
                     "extra": {"sqlalchemy_url": "postgresql+psycopg2://a:b@c/d"}}), "postgresql+psycopg://a:b@c/d"),
        # SQLite connections: the path is the host (JSON) or the path of the URI
        (json.dumps({"conn_type": "sqlite", "host": "/data/sf.db"}), "sqlite:////data/sf.db"),
        ("sqlite:////data/sf.db", "sqlite:////data/sf.db"),
    ],
)
def test_connection_forms(monkeypatch, conn, expected):
    monkeypatch.setenv("AIRFLOW_CONN_STREAMFLOW_DB", conn)
    assert resolve_database_url() == expected


@pytest.mark.parametrize(
    "given",
    ["postgres://u:pw@h:5432/db", "postgresql://u:pw@h:5432/db", "postgresql+psycopg2://u:pw@h:5432/db",
     "postgresql+psycopg://u:pw@h:5432/db", "  postgresql://u:pw@h:5432/db\n"],
)
def test_postgres_spellings_become_psycopg3(monkeypatch, given):
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", given)
    assert resolve_database_url() == "postgresql+psycopg://u:pw@h:5432/db"
    assert make_engine().url.drivername == "postgresql+psycopg"


def test_hook_uses_its_own_conn_id(monkeypatch, tmp_path):
    """A custom conn_id is really used: its database gets the schema, the default one is untouched."""
    mine, default = tmp_path / "mine.db", tmp_path / "default.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DB", json.dumps({"conn_type": "sqlite", "host": str(mine)}))
    monkeypatch.setenv("AIRFLOW_CONN_STREAMFLOW_DB", f"sqlite:///{default}")
    from streamflow.db import migrate

    hook = StreamflowDbHook(conn_id="warehouse_db")
    assert hook.get_uri() == f"sqlite:///{mine}"
    try:
        migrate.upgrade(hook.get_engine())
        assert hook.test_connection() == (True, "streamflow database reachable")
        assert "pull_configurations" in inspect(hook.get_engine()).get_table_names()
        assert StreamflowDbHook().get_uri() == f"sqlite:///{default}"
        assert not default.exists()
        # the environment still wins over the hook's connection
        monkeypatch.setenv("STREAMFLOW_DATABASE_URL", f"sqlite:///{default}")
        assert hook.get_uri() == f"sqlite:///{default}"
    finally:
        dispose_engines()


def test_hook_reaches_a_real_database_through_its_connection(empty_db_url, monkeypatch):
    """Both dialects: the connection (URI form) is all the hook is given."""
    url = make_url(empty_db_url)
    if url.get_backend_name() == "postgresql":
        conn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    else:
        conn = f"sqlite:///{url.database}"
    monkeypatch.setenv("AIRFLOW_CONN_PIPELINE_DB", conn)
    hook = StreamflowDbHook(conn_id="pipeline_db")
    try:
        assert hook.test_connection() == (True, "streamflow database reachable")
        assert hook.get_engine().url.drivername == url.drivername
    finally:
        dispose_engines()


def test_unreachable_connection_is_reported_without_the_password(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN_DB", _json_conn(host="127.0.0.1", port=1))
    ok, message = StreamflowDbHook(conn_id="broken_db").test_connection()
    dispose_engines()
    assert ok is False and "unreachable" in message and PASSWORD not in message


def test_passwords_never_reach_the_log(monkeypatch, caplog):
    with caplog.at_level(logging.DEBUG):
        monkeypatch.setenv("AIRFLOW_CONN_STREAMFLOW_DB", _json_conn())
        resolve_database_url()
        monkeypatch.setenv("STREAMFLOW_DATABASE_URL", f"postgres://someone:{PASSWORD}@h/db")
        resolve_database_url()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("streamflow")]
    assert any("connection 'streamflow_db'" in m and "***" in m for m in ours), ours
    assert any("STREAMFLOW_DATABASE_URL" in m and "***" in m for m in ours), ours
    assert PASSWORD not in caplog.text


def test_cli_and_alembic_use_the_connection(monkeypatch, tmp_path):
    """No STREAMFLOW_DATABASE_URL: `streamflow db upgrade` and plain `alembic` both find the database
    named by AIRFLOW_CONN_STREAMFLOW_DB (in fresh processes: nothing cached)."""
    bin_dir = Path(sys.executable).parent
    for tool, args, database in (
        ("streamflow", ["db", "upgrade"], tmp_path / "cli.db"),
        ("alembic", ["upgrade", "head"], tmp_path / "alembic.db"),
    ):
        env = {**os.environ, "AIRFLOW_CONN_STREAMFLOW_DB": f"sqlite:///{database}"}
        env.pop("STREAMFLOW_DATABASE_URL", None)
        result = subprocess.run([str(bin_dir / tool), *args], cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        engine = make_engine(f"sqlite:///{database}")
        assert "pull_configurations" in inspect(engine).get_table_names(), tool
        engine.dispose()
        if tool == "streamflow":
            assert f"streamflow database at sqlite:///{database}" in result.stdout


def test_migrate_without_an_engine_uses_the_resolved_database(monkeypatch, tmp_path):
    from streamflow.db import migrate

    database = tmp_path / "resolved.db"
    monkeypatch.setenv("AIRFLOW_CONN_STREAMFLOW_DB", json.dumps({"conn_type": "sqlite", "host": str(database)}))
    assert migrate.current_revision() is None
    migrate.upgrade()
    engine = make_engine(f"sqlite:///{database}")
    try:
        assert "pull_configurations" in inspect(engine).get_table_names()
        assert migrate.current_revision() == migrate.current_revision(engine) is not None
    finally:
        engine.dispose()
