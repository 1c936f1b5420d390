"""docker/init.sh — what the compose `airflow-init` service runs — against fresh PostgreSQL
databases, with the environment taken from docker-compose.airflow.yml itself.

One PostgreSQL server, two databases, as in the compose deployment: Airflow's metadata database
and the streamflow database, created by docker/postgres-init/10-streamflow-db.sh with its own role.
"""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.security import check_password_hash
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL
from tests.deploy.compose_spec import service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _csv_rows(name: str) -> int:
    with open(REPO / "data" / name, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def _scalar_rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def deployment(tmp_path) -> Iterator[dict]:
    if not POSTGRES_URL:
        pytest.skip("STREAMFLOW_TEST_POSTGRES_URL is not set")
    server = make_url(POSTGRES_URL)
    af_name = f"af_init_{secrets.token_hex(5)}"
    af_password = secrets.token_urlsafe(16)
    sf_name = f"sf_init_{secrets.token_hex(5)}"
    sf_password = secrets.token_urlsafe(16)
    pg_env = {
        **os.environ,
        "PGHOST": server.host or "127.0.0.1", "PGPORT": str(server.port or 5432),
        **({"PGPASSWORD": server.password} if server.password else {}),
        "POSTGRES_USER": server.username or "postgres", "POSTGRES_DB": server.database or "postgres",
        "AIRFLOW_DB_NAME": af_name, "AIRFLOW_DB_USER": af_name, "AIRFLOW_DB_PASSWORD": af_password,
        "STREAMFLOW_DB_NAME": sf_name, "STREAMFLOW_DB_USER": sf_name, "STREAMFLOW_DB_PASSWORD": sf_password,
    }
    created = subprocess.run(["bash", str(REPO / "docker" / "postgres-init" / "10-streamflow-db.sh")],
                             env=pg_env, capture_output=True, text=True, timeout=120, check=False)
    airflow_url = make_url(POSTGRES_URL).set(
        drivername="postgresql+psycopg", database=af_name, username=af_name, password=af_password
    ).render_as_string(hide_password=False)
    try:
        assert created.returncode == 0, created.stdout + created.stderr
        dotenv = {  # what an operator's .env holds
            "POSTGRES_PASSWORD": "unused-here", "AIRFLOW_DB_PASSWORD": af_password,
            "AIRFLOW_DB_NAME": af_name, "AIRFLOW_DB_USER": af_name,
            "POSTGRES_HOST": pg_env["PGHOST"], "POSTGRES_PORT": pg_env["PGPORT"],
            "STREAMFLOW_DB_PASSWORD": sf_password,
            "STREAMFLOW_DB_HOST": pg_env["PGHOST"], "STREAMFLOW_DB_PORT": pg_env["PGPORT"],
            "STREAMFLOW_DB_NAME": sf_name, "STREAMFLOW_DB_USER": sf_name,
            "STREAMFLOW_ADMIN_PASSWORD": "first-admin-password",
            "AIRFLOW__CORE__FERNET_KEY": "Xq2cSuuvnBqPw1qGZbHnnpW3G7Ecnhx3BFzB0mXhN0Q=",
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STREAMFLOW"))}
        env.update(service_environment("airflow-init", dotenv))  # docker/airflow.env + the service's own
        env.update({
            # What the image sets (docker/Dockerfile) and the official image provides.
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        })
        sf_url = make_url(POSTGRES_URL).set(
            drivername="postgresql+psycopg", database=sf_name, username=sf_name, password=sf_password
        ).render_as_string(hide_password=False)
        yield {"env": env, "airflow_url": airflow_url, "streamflow_url": sf_url, "role": sf_name,
               "airflow_role": af_name}
    finally:
        from streamflow.db.engine import dispose_engines

        dispose_engines()
        admin = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (af_name, sf_name):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()


def _run_init(env: dict[str, str]) -> str:
    result = subprocess.run(["bash", str(REPO / "docker" / "init.sh")], env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, f"docker/init.sh failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _state(d: dict) -> dict:
    from alembic.script import ScriptDirectory

    from streamflow.db import migrate

    airflow_url = d["airflow_url"]
    sf_url = d["streamflow_url"]
    return {
        "streamflow_revision": _scalar_rows(sf_url, "SELECT version_num FROM alembic_version"),
        "head": ScriptDirectory.from_config(migrate.alembic_config()).get_current_head(),
        "owner": _scalar_rows(sf_url, "SELECT tableowner FROM pg_tables WHERE tablename = 'master_stations'"),
        "master_stations": _scalar_rows(sf_url, "SELECT count(*) FROM master_stations")[0][0],
        "station_mappings": _scalar_rows(sf_url, "SELECT count(*) FROM station_mappings")[0][0],
        "configurations": _scalar_rows(sf_url, "SELECT count(*) FROM pull_configurations")[0][0],
        "pools": dict(_scalar_rows(airflow_url, "SELECT pool, slots FROM slot_pool")),
        "airflow_tables": _scalar_rows(airflow_url, "SELECT count(*) FROM information_schema.tables "
                                                    "WHERE table_name IN ('dag', 'dag_run', 'task_instance')")[0][0],
        "admins": _scalar_rows(airflow_url, "SELECT u.username, r.name FROM ab_user u JOIN ab_user_role ur "
                                            "ON ur.user_id = u.id JOIN ab_role r ON r.id = ur.role_id"),
        "password_hash": _scalar_rows(airflow_url, "SELECT password FROM ab_user WHERE username = 'admin'")[0][0],
    }


def test_init_creates_everything_once_on_postgresql(deployment):
    output = _run_init(deployment["env"])

    state = _state(deployment)
    assert state["streamflow_revision"] == [(state["head"],)]
    assert state["owner"] == [(deployment["role"],)]  # the streamflow role owns its schema
    assert state["master_stations"] == _csv_rows("master_stations.csv")
    assert state["station_mappings"] == _csv_rows("hads_id_mappings.csv")
    assert state["configurations"] == 0  # STREAMFLOW_LOAD_EXAMPLES defaults to false in compose
    assert state["pools"] == {"default_pool": 128, "usgs_api": 4, "eccc_api": 4, "noaa_api": 4}
    assert state["airflow_tables"] == 3
    # Airflow and streamflow connect as their own roles, neither a superuser nor able to create roles
    # or databases; Airflow's tables belong to its role.
    for role in (deployment["airflow_role"], deployment["role"]):
        assert _scalar_rows(POSTGRES_URL, f"SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                                          f"WHERE rolname = '{role}'") == [(False, False, False)], role
    assert _scalar_rows(deployment["airflow_url"], "SELECT tableowner FROM pg_tables WHERE tablename = 'dag_run'") \
        == [(deployment["airflow_role"],)]
    assert state["admins"] == [("admin", "Admin")]  # the FAB auth manager's admin, created at init
    assert check_password_hash(state["password_hash"], "first-admin-password")
    assert "user 'admin' (Admin): created with the password from STREAMFLOW_ADMIN_PASSWORD" in output
    assert "first-admin-password" not in output  # never logged

    # An operator tunes a pool and rotates the admin password in .env; init runs again on `up`.
    admin = create_engine(deployment["airflow_url"])
    with admin.begin() as conn:
        conn.execute(text("UPDATE slot_pool SET slots = 9 WHERE pool = 'usgs_api'"))
    admin.dispose()
    deployment["env"]["STREAMFLOW_ADMIN_PASSWORD"] = "rotated-admin-password"
    output = _run_init(deployment["env"])

    again = _state(deployment)
    assert again["pools"] == {"default_pool": 128, "usgs_api": 9, "eccc_api": 4, "noaa_api": 4}  # kept
    assert again["admins"] == [("admin", "Admin")]
    assert check_password_hash(again["password_hash"], "rotated-admin-password")
    assert "rotated-admin-password" not in output
    for key in ("streamflow_revision", "master_stations", "station_mappings", "configurations", "airflow_tables"):
        assert again[key] == state[key], key  # nothing duplicated, nothing lost
    assert "0 inserted, 0 updated" in output
    assert "init:   all present (slots left as they are)" in output
