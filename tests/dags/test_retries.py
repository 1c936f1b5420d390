"""Retries per service: each source's pull tasks get their own budget, each attempt says how many
remain, and a retried mapped pull keeps showing its station number (not its map index)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.factory import DEFAULT_RETRIES, build_dags
from streamflow.testing.fakes.usgs import DAILY, FakeUsgs
from streamflow.testing.replay import Response

UTC = timezone.utc
STATION = "01646500"


@pytest.fixture
def fake(replay) -> FakeUsgs:
    return FakeUsgs(replay, until=datetime.now(UTC) - timedelta(days=3))


def _dag(engine, stations=(STATION,), data_type="daily_mean"):
    with session_scope(engine) as s:
        config = repo.create_configuration(
            s, name="retries", data_type=data_type, data_strategy="append",
            pull_start_date=datetime(2026, 1, 1, tzinfo=UTC), schedule_type="manual",
            stations=[{"station_number": n} for n in stations],
        )
        config_id = config.id
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    return build_dags(rows)[f"streamflow_config_{config_id}"]


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_each_source_has_its_own_retry_budget(engine, monkeypatch):
    monkeypatch.delenv("STREAMFLOW_TASK_RETRIES", raising=False)
    dag = _dag(engine, stations=(STATION, "08MF005"))
    assert dag.task_dict["pull_usgs"].retries == DEFAULT_RETRIES == 2
    assert dag.task_dict["pull_eccc"].retries == DEFAULT_RETRIES
    monkeypatch.setenv("STREAMFLOW_TASK_RETRIES", "4")
    monkeypatch.setenv("STREAMFLOW_RETRIES_USGS", "1")
    dag = _dag(engine, stations=(STATION, "08MF005"))
    assert dag.task_dict["pull_usgs"].retries == 1  # the source's own setting wins
    assert dag.task_dict["pull_eccc"].retries == 4  # the global default
    monkeypatch.setenv("STREAMFLOW_RETRIES_NOAA", "0")
    assert _dag(engine, data_type="rfc_forecast").task_dict["pull_noaa"].retries == 0


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_a_retried_pull_shows_its_station_and_logs_the_attempts_left(airflow_db, engine, fake, replay, monkeypatch,
                                                                       capfd):
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    monkeypatch.setenv("STREAMFLOW_RETRIES_USGS", "1")
    monkeypatch.setenv("STREAMFLOW_RETRY_DELAY_SECONDS", "0")
    replay.add(DAILY, Response(503, {"code": "ServiceUnavailable", "description": "try later"}), first=True, times=1)
    dag = _dag(engine)
    run = dag.test(run_conf={"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-06-03T00:00:00Z"})
    assert run.state == "success"
    with create_session() as session:
        current = session.scalars(select(TaskInstance).where(
            TaskInstance.run_id == run.run_id, TaskInstance.task_id == "pull_usgs")).one()
        earlier = session.scalars(select(TaskInstanceHistory).where(
            TaskInstanceHistory.run_id == run.run_id, TaskInstanceHistory.task_id == "pull_usgs")).all()
        assert current.try_number == 2
        assert current.rendered_map_index == STATION
        # Airflow 3.3.2 records the first attempt as "0": its RetryTask message carries no
        # rendered_map_index (task_runner._finalize_task_failure). Not ours to fix; see the report.
        assert len(earlier) == 1
    out = capfd.readouterr()
    text = out.out + out.err
    assert f"usgs: station {STATION}: attempt 1 of 2 (1 retry left after this one)" in text
    assert "attempt 1 of 2 failed" in text and "Airflow retries it (1 attempt(s) left)" in text
    assert f"usgs: station {STATION}: attempt 2 of 2 (0 retries left after this one)" in text
