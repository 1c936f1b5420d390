"""The trigger form's schema refusing bad overrides through the REST API of a real Airflow
(the stack of test_airflow_e2e: API server, scheduler and DAG processor on loopback).

What the Param schema can say is refused at trigger time (no run is created); what only ``plan``
can check (unknown keys: Airflow adds them as untyped params; the clock-dependent date bounds)
creates a run that fails in ``plan`` at once, with a ``data_pull_logs`` row listing every error.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from streamflow.db.engine import make_engine, session_scope
from streamflow.db.models import DataPullLog
from tests.deploy.test_airflow_e2e import RUN_TIMEOUT, START_TIMEOUT, STATIONS, stack  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def _dag_id(stack) -> str:  # noqa: F811 - the fixture
    dag_id = f"streamflow_config_{stack.config_id}"
    stack.wait_for("the DAG", lambda: stack.api("GET", f"/dags/{dag_id}").ok, START_TIMEOUT)
    return dag_id


def _runs(stack, dag_id) -> int:  # noqa: F811
    return stack.api("GET", f"/dags/{dag_id}/dagRuns").json()["total_entries"]


def test_the_schema_refuses_a_station_outside_the_configuration(stack):  # noqa: F811
    dag_id = _dag_id(stack)
    params = stack.api("GET", f"/dags/{dag_id}/details").json()["params"]
    assert params["stations"]["schema"]["items"]["enum"] == list(STATIONS)
    assert params["data_strategy"]["schema"]["values_display"]["None"].startswith("(the configuration's")

    for conf, named in (({"stations": ["09999999"]}, "09999999"), ({"data_strategy": "bogus"}, "bogus"),
                        ({"full_refresh": "yes"}, "full_refresh")):
        response = stack.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        assert response.status_code in (400, 422), (conf, response.text)
        assert named in response.text
    assert _runs(stack, dag_id) == 0  # nothing was created


def test_what_only_plan_can_check_fails_the_run_at_once_with_every_error(stack):  # noqa: F811
    dag_id = _dag_id(stack)
    assert stack.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    conf = {"statoins": ["01013500"], "start_date": "1800-01-01T00:00:00Z", "end_date": "1700-01-01T00:00:00Z"}
    response = stack.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    assert response.status_code == 200, response.text  # Airflow keeps unknown keys as untyped params
    run_id = response.json()["dag_run_id"]

    def finished():
        state = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    assert stack.wait_for(f"run {run_id}", finished, RUN_TIMEOUT) == "failed"
    engine = make_engine(stack.streamflow_url)
    try:
        with session_scope(engine) as s:
            (row,) = s.execute(select(DataPullLog).where(DataPullLog.dag_run_id == run_id)).scalars().all()
            status, error, ended = row.status, row.error_message, row.end_time
    finally:
        engine.dispose()
    assert status == "failed" and ended is not None
    for part in ("unknown param(s): statoins", "param start_date: 1800-01-01T00:00:00Z is before 1850",
                 "param end_date: 1700-01-01T00:00:00Z is not after start_date"):
        assert part in error
