"""docker-compose.airflow.yml: valid against the compose specification, and shaped the way the
deployment relies on (no Docker engine runs here; docker/init.sh is exercised in test_init.py,
the processes themselves in test_cluster.py through scripts/cluster.sh)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.compose_spec import (
    AIRFLOW_ENV, COMPOSE, VARIABLE, env_example, interpolate, read_dotenv, service_environment,
)

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
    "airflow-init",
}
LONG_RUNNING = {"postgres", "redis"} | AIRFLOW_SERVICES - {"airflow-init"}
SERVICE_CONNECTIONS = ("usgs_waterdata", "eccc_datamart", "eccc_wateroffice", "noaa_nwps")  # docs/architecture.md#configuration
SECRETS = ("POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "STREAMFLOW_DB_PASSWORD", "REDIS_PASSWORD",
           "STREAMFLOW_ADMIN_PASSWORD", "FLOWER_PASSWORD", "AIRFLOW__CORE__FERNET_KEY",
           "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")
# Which secret reaches which container (issue 16 item 7: each gets only what it uses).
SECRETS_OF = {
    "postgres": {"POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "STREAMFLOW_DB_PASSWORD"},
    "redis": {"REDIS_PASSWORD"},
    "airflow-apiserver": {"AIRFLOW_DB_PASSWORD", "STREAMFLOW_DB_PASSWORD", "AIRFLOW__CORE__FERNET_KEY",
                          "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "USGS_API_KEY"},
    "airflow-scheduler": {"AIRFLOW_DB_PASSWORD", "REDIS_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET"},
    "airflow-dag-processor": {"AIRFLOW_DB_PASSWORD", "STREAMFLOW_DB_PASSWORD"},
    "airflow-triggerer": {"AIRFLOW_DB_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET"},
    "airflow-worker": {"REDIS_PASSWORD", "STREAMFLOW_DB_PASSWORD", "USGS_API_KEY"},
    "airflow-init": {"AIRFLOW_DB_PASSWORD", "STREAMFLOW_DB_PASSWORD", "AIRFLOW__CORE__FERNET_KEY",
                     "STREAMFLOW_ADMIN_PASSWORD"},
    "airflow-cli": {"AIRFLOW_DB_PASSWORD", "STREAMFLOW_DB_PASSWORD", "AIRFLOW__CORE__FERNET_KEY"},
    "flower": {"REDIS_PASSWORD", "FLOWER_PASSWORD"},
}


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
        assert service["env_file"] == ["docker/airflow.env"], name
        assert service_environment(name, _filled())["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
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
    env = service_environment("airflow-worker", {**_filled(), "REDIS_PASSWORD": "pw"})
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:pw@redis:6379/0"  # Redis requires the password
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "redis://:pw@redis:6379/1"
    assert worker["stop_grace_period"] == "10m"  # warm shutdown: running pulls finish


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
    assert postgres["environment"]["POSTGRES_USER"] == "postgres"  # the superuser stays in this container
    metadata = compose["services"]["airflow-scheduler"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert interpolate(metadata, {"AIRFLOW_DB_PASSWORD": "pw"}) == "postgresql+psycopg2://airflow:pw@postgres:5432/airflow"


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
    required = {m["name"] for m in VARIABLE.finditer(COMPOSE.read_text()) if m["name"] and m["op"] == ":?"}
    assert required == set(SECRETS)
    assert required <= set(example)
    for name in SECRETS:  # a placeholder the deployment refuses (see test_placeholders_are_refused_*)
        assert example[name] == "" or example[name].startswith("change-me-"), name
    for conn_id in SERVICE_CONNECTIONS:
        conn = json.loads(example[f"AIRFLOW_CONN_{conn_id.upper()}"])
        assert conn["conn_type"] == "http" and conn["host"].startswith("https://"), conn_id


def test_image_is_the_pinned_airflow_with_python_311():
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE)[1]
    assert f"ARG AIRFLOW_IMAGE=apache/airflow:{pinned}-python3.11" in DOCKERFILE.read_text()
    for copied in re.findall(r"^COPY --chown=airflow:0 (.+) \$\{STREAMFLOW_REPO\}", DOCKERFILE.read_text(), re.MULTILINE):
        for path in copied.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"


def _filled() -> dict[str, str]:
    """.env.example with the empty required keys filled, as an operator would start it."""
    return {**env_example(), "AIRFLOW__CORE__FERNET_KEY": "f", "AIRFLOW__API_AUTH__JWT_SECRET": "j",
            "AIRFLOW__API__SECRET_KEY": "s"}


def test_each_container_gets_only_the_secrets_it_uses(compose):
    marked = {name: f"SECRET-{name}-x" for name in SECRETS}
    usgs = json.dumps({"conn_type": "http", "host": "https://api.waterdata.usgs.gov", "password": "SECRET-USGS_API_KEY-x"})
    dotenv = {**env_example(), **marked, "AIRFLOW_CONN_USGS_WATERDATA": usgs}
    assert set(compose["services"]) == set(SECRETS_OF)
    for service in compose["services"]:
        env = service_environment(service, dotenv)
        seen = set(re.findall(r"SECRET-(\w+)-x", "\n".join(env.values())))
        assert seen == SECRETS_OF[service], service


def test_shared_settings_live_in_one_env_file_read_by_compose_and_cluster(compose):
    lines = [line for line in AIRFLOW_ENV.read_text().splitlines() if line and not line.startswith("#")]
    for line in lines:  # readable alike by Compose's env_file and by bash
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s'\"$]+", line), line
    shared = read_dotenv(AIRFLOW_ENV)
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert shared["AIRFLOW__CORE__AUTH_MANAGER"] == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    assert shared["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "4"
    assert not set(shared) & set(SECRETS)
    for name in AIRFLOW_SERVICES | {"airflow-cli", "flower"}:
        service = compose["services"][name]
        assert service["env_file"] == ["docker/airflow.env"], name
        # No service changes a shared setting: what the file says is what every process gets.
        assert not set(shared) & set(service.get("environment") or {}), name
    assert "SimpleAuthManager" not in COMPOSE.read_text()  # development only


def test_cluster_script_starts_each_process_with_the_compose_environment(tmp_path):
    """scripts/cluster.sh runs every component through docker/compose_env.py: what a process gets
    is its compose service's environment (with the cluster's own .env), plus only settings that
    exist because there is no container."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STREAMFLOW"))}
    env.update(STREAMFLOW_CLUSTER_HOME=str(tmp_path / "cluster"), STREAMFLOW_CLUSTER_NAME="sfcl_env")
    local_only = {"AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER", "AIRFLOW__API__HOST",
                  "AIRFLOW__API__PORT", "AIRFLOW__API__WORKERS", "STREAMFLOW_HOME", "STREAMFLOW_SNAPSHOT_PATH"}
    shared = read_dotenv(AIRFLOW_ENV)
    for service in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init"):
        result = subprocess.run(["bash", str(REPO / "scripts" / "cluster.sh"), "env", service], env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        got = dict(line.split("=", 1) for line in result.stdout.splitlines())
        dotenv = read_dotenv(tmp_path / "cluster" / ".env")
        expected = service_environment(service, dotenv)
        assert {k: got.get(k) for k in expected} == expected, service
        assert {k: got[k] for k in shared} == shared, service
        extra = set(got) - set(expected) - local_only
        assert not {k for k in extra if k.startswith(("AIRFLOW", "STREAMFLOW"))}, (service, extra)
        assert set(SECRETS_OF[service]) - {"USGS_API_KEY"} <= {k for k in SECRETS if k in dotenv}
    assert oct((tmp_path / "cluster" / ".env").stat().st_mode & 0o777) == "0o600"  # generated secrets


def _compose_script(service: str, key: str) -> str:
    raw = yaml.safe_load(COMPOSE.read_text())["services"][service][key]
    return interpolate(raw[-1], {})  # ["bash", "-c", script]: `$$` becomes `$` as Compose does


def _stub_servers(tmp_path: Path) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    for server in ("docker-entrypoint.sh", "redis-server", "airflow"):
        (path / server).write_text("#!/bin/sh\necho STARTED\n")
        (path / server).chmod(0o755)
    return path


@pytest.mark.parametrize(("service", "key", "env"), [
    ("postgres", "entrypoint", {"POSTGRES_PASSWORD": "a", "AIRFLOW_DB_PASSWORD": "b", "STREAMFLOW_DB_PASSWORD": "c"}),
    ("redis", "command", {"REDIS_PASSWORD": "a-real-secret"}),
    ("flower", "command", {"AIRFLOW__CELERY__FLOWER_BASIC_AUTH": "admin:a-real-secret"}),
])
def test_real_secrets_start_postgres_redis_and_flower(service, key, env, tmp_path):
    result = subprocess.run(["bash", "-c", _compose_script(service, key)],
                            env={"PATH": f"{_stub_servers(tmp_path)}:/usr/bin:/bin", "TMPDIR": str(tmp_path), **env},
                            capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "STARTED"), result.stderr


@pytest.mark.parametrize(("service", "key", "variable", "env"), [
    ("postgres", "entrypoint", "AIRFLOW_DB_PASSWORD",
     {"POSTGRES_PASSWORD": "a-real-one", "AIRFLOW_DB_PASSWORD": "change-me-airflow-db", "STREAMFLOW_DB_PASSWORD": "x"}),
    ("postgres", "entrypoint", "POSTGRES_PASSWORD",
     {"POSTGRES_PASSWORD": "change-me-postgres-superuser", "AIRFLOW_DB_PASSWORD": "y", "STREAMFLOW_DB_PASSWORD": "x"}),
    ("redis", "command", "REDIS_PASSWORD", {"REDIS_PASSWORD": "change-me-redis"}),
    ("flower", "command", "FLOWER_PASSWORD", {"AIRFLOW__CELERY__FLOWER_BASIC_AUTH": "admin:change-me-flower"}),
])
def test_placeholders_are_refused_by_postgres_redis_and_flower(service, key, variable, env, tmp_path):
    script = _compose_script(service, key)
    # Refused before the server would start: the stub servers here must never run.
    path = _stub_servers(tmp_path)
    result = subprocess.run(["bash", "-c", script], env={"PATH": f"{path}:/usr/bin:/bin", **env},
                            capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert f"{variable} is the placeholder from .env.example" in result.stderr
    assert "STARTED" not in result.stdout
