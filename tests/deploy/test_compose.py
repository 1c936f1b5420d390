"""docker-compose.airflow.yml: valid against the compose specification, and shaped the way the
deployment relies on (no Docker engine runs here; docker/init.sh is exercised in test_init.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.compose_spec import COMPOSE, VARIABLE, env_example, interpolate

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
    "airflow-init",
}
LONG_RUNNING = {"postgres", "redis"} | AIRFLOW_SERVICES - {"airflow-init"}
SERVICE_CONNECTIONS = ("usgs_waterdata", "eccc_datamart", "eccc_wateroffice", "noaa_nwps")  # DESIGN §3


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # anchors and `<<` merges resolved


def test_compose_file_validates_against_the_compose_specification():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validation done" in result.stdout


def test_services_are_the_production_shape(compose):
    services = compose["services"]
    assert set(services) >= AIRFLOW_SERVICES | {"postgres", "redis"}
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"] == {"context": ".", "dockerfile": "docker/Dockerfile"}, name
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert service["env_file"] == [".env"], name
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}, name
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "always", name
        assert services[name]["healthcheck"]["test"], name
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}, name
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


def test_workers_scale_out(compose):
    worker = compose["services"]["airflow-worker"]
    # `--scale airflow-worker=N` fails on a fixed container name or a published port.
    assert "container_name" not in worker and "ports" not in worker
    assert worker["environment"]["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"


def test_api_server_is_published_on_loopback_by_default(compose):
    (port,) = compose["services"]["airflow-apiserver"]["ports"]
    assert interpolate(port, {}) == "127.0.0.1:8080:8080"


def test_init_runs_the_shared_init_script(compose):
    init = compose["services"]["airflow-init"]
    assert init["command"] == ["bash", "/opt/streamflow/docker/init.sh"]
    assert "COPY --chown=airflow:0 docker/init.sh ${STREAMFLOW_REPO}/docker/init.sh" in DOCKERFILE.read_text()
    assert "ENV STREAMFLOW_REPO=/opt/streamflow" in DOCKERFILE.read_text()
    assert "restart" not in init  # runs to completion once per `up`


def test_postgres_creates_the_second_database(compose):
    postgres = compose["services"]["postgres"]
    assert "./docker/postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert (REPO / "docker" / "postgres-init" / "10-streamflow-db.sh").exists()
    assert postgres["environment"]["POSTGRES_DB"] == "airflow"
    metadata = compose["services"]["airflow-scheduler"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert interpolate(metadata, {"POSTGRES_PASSWORD": "pw"}) == "postgresql+psycopg2://airflow:pw@postgres/airflow"


def test_streamflow_db_connection_resolves_to_the_streamflow_database(compose, monkeypatch):
    raw = compose["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_STREAMFLOW_DB"]
    conn = json.loads(interpolate(raw, env_example()))
    assert conn == {"conn_type": "postgres", "host": "postgres", "port": 5432, "schema": "streamflow",
                    "login": "streamflow", "password": "change-me-streamflow-db"}
    from streamflow.db.url import resolve_database_url

    monkeypatch.setenv("AIRFLOW_CONN_STREAMFLOW_DB", json.dumps(conn))
    assert resolve_database_url() == "postgresql+psycopg://streamflow:change-me-streamflow-db@postgres:5432/streamflow"


def test_env_example_documents_every_required_variable_and_connection(compose):
    example = env_example()
    required = {m["name"] for m in VARIABLE.finditer(COMPOSE.read_text()) if m["op"] == ":?"}
    assert required == {"POSTGRES_PASSWORD", "STREAMFLOW_DB_PASSWORD", "STREAMFLOW_ADMIN_PASSWORD",
                        "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"}
    assert required <= set(example)
    for conn_id in SERVICE_CONNECTIONS:
        conn = json.loads(example[f"AIRFLOW_CONN_{conn_id.upper()}"])
        assert conn["conn_type"] == "http" and conn["host"].startswith("https://"), conn_id


def test_image_is_the_pinned_airflow_with_python_311():
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE)[1]
    assert f"ARG AIRFLOW_IMAGE=apache/airflow:{pinned}-python3.11" in DOCKERFILE.read_text()
    for copied in re.findall(r"^COPY --chown=airflow:0 (.+) \$\{STREAMFLOW_REPO\}", DOCKERFILE.read_text(), re.MULTILINE):
        for path in copied.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"
