"""Hostile configuration rows through a real DAG processor, on both databases: every row, whatever
its column values, ends as its DAG or as an ``invalid`` DAG naming the problem, none is stale, and the
DAG file has no import error (docs/adr/0006-dag-file-never-raises.md).

The rows are the ones tests/dags/test_dagbag.py builds through a DagBag (raw SQL around the CLI's
validation); here Airflow's own ``airflow dag-processor`` parses the DAG file, and the REST API says
what it made of them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from streamflow.db.engine import make_engine
from streamflow.testing.replay import ReplayServer
from tests.dags.test_dagbag import _hostile
from tests.deploy.test_airflow_e2e import START_TIMEOUT, AirflowStack, _environment, _free_port

pytestmark = pytest.mark.slow


def _postgres_database() -> tuple[str, str]:
    base = make_url(os.environ["STREAMFLOW_TEST_POSTGRES_URL"]).set(drivername="postgresql+psycopg")
    name = f"sf_hostile_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres_database(name: str) -> None:
    base = make_url(os.environ["STREAMFLOW_TEST_POSTGRES_URL"]).set(drivername="postgresql+psycopg")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def processor(request, tmp_path) -> Iterator[tuple[AirflowStack, dict[str, int], set[str]]]:
    """A migrated streamflow database holding a valid row and the hostile ones, then a real API
    server + DAG processor + scheduler over this repository's DAG file."""
    dropped = None
    if request.param == "sqlite":
        streamflow_url = f"sqlite:///{tmp_path / 'streamflow' / 'streamflow.db'}"
    else:
        if not os.environ.get("STREAMFLOW_TEST_POSTGRES_URL"):
            pytest.skip("STREAMFLOW_TEST_POSTGRES_URL is not set")
        streamflow_url, dropped = _postgres_database()
    (tmp_path / "logs").mkdir()
    port = _free_port()
    try:
        with ReplayServer() as replay:
            env = _environment(tmp_path, port, replay.url, streamflow_url)
            stack = AirflowStack(f"http://127.0.0.1:{port}", streamflow_url, env, replay, tmp_path / "logs")
            stack.initialise()
            config_id = stack.create_configuration(
                "--name", "a valid one", "--data-type", "daily_mean", "--start", "2020-01-01", "--schedule", "daily",
                "--station", "01646500",
            )
            valid = {f"streamflow_config_{config_id}"}
            engine = make_engine(streamflow_url)
            try:
                hostile = _hostile(engine)
            finally:
                engine.dispose()
            with stack.running():
                yield stack, hostile, valid
    finally:
        if dropped:
            _drop_postgres_database(dropped)


def test_every_hostile_row_becomes_its_invalid_dag_in_a_real_dag_processor(processor):
    stack, hostile, valid = processor
    wanted = valid | {f"streamflow_config_{i}" for i in hostile.values()}

    def parsed():
        body = stack.api("GET", "/dags", params={"dag_id_pattern": "streamflow_config_", "limit": 100}).json()
        seen = {d["dag_id"]: d for d in body["dags"]}
        return seen if wanted <= set(seen) else None

    dags = stack.wait_for("the DAG processor to list every configuration's DAG", parsed, START_TIMEOUT)
    errors = stack.api("GET", "/importErrors").json()
    assert errors["total_entries"] == 0, errors
    for dag_id in valid:
        assert "invalid" not in {t["name"] for t in dags[dag_id]["tags"]}, dag_id
    for key, config_id in hostile.items():
        dag = dags[f"streamflow_config_{config_id}"]
        assert "invalid" in {t["name"] for t in dag["tags"]}, key
        assert dag["is_stale"] is False, key
        details = stack.api("GET", f"/dags/{dag['dag_id']}/details").json()
        assert details["description"], key  # names the problem
        assert "\x1b" not in (details["dag_display_name"] or "") + details["description"], key
