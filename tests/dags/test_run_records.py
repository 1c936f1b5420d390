"""Every run leaves a closed ``data_pull_logs`` row, whatever happens: a plan that refuses the
params (every error listed), an invalid configuration, a schedule that never fires in finalize."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from streamflow.configurations import validate_configuration
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog, PullConfiguration
from streamflow.factory import build_dag, build_dags
from streamflow.testing.fakes.usgs import FakeUsgs
from streamflow.vocabulary import ScheduleType

UTC = timezone.utc


@pytest.fixture
def fake(replay) -> FakeUsgs:
    return FakeUsgs(replay, until=datetime.now(UTC) - timedelta(days=3))


def _config(engine, stations=("01646500",), **kwargs) -> int:
    with session_scope(engine) as s:
        config = repo.create_configuration(
            s, name="records", data_type="daily_mean", data_strategy="append",
            pull_start_date=kwargs.pop("start", datetime(2026, 1, 1, tzinfo=UTC)), schedule_type="manual",
            stations=[{"station_number": n} for n in stations], **kwargs,
        )
        return config.id


def _rows(engine, config_id):
    with session_scope(engine) as s:
        rows = s.execute(select(DataPullLog).where(DataPullLog.config_id == config_id)).scalars().all()
        return [(r.status, r.error_message, r.end_time) for r in rows]


def _dag(engine, config_id):
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    return build_dags(rows)[f"streamflow_config_{config_id}"]


def test_plan_refusing_the_params_leaves_a_failed_row_listing_every_error(airflow_db, engine, fake):
    config_id = _config(engine)
    run = _dag(engine, config_id).test(
        run_conf={"start_date": "1800-01-01T00:00:00Z", "end_date": "1700-01-01T00:00:00Z", "statoins": ["x"]}
    )
    assert run.state == "failed"
    (status, error, end_time), = _rows(engine, config_id)
    assert status == "failed" and end_time is not None
    assert "param start_date: 1800-01-01T00:00:00Z is before 1850-01-01" in error
    assert "param end_date: 1700-01-01T00:00:00Z is not after start_date" in error
    assert "unknown param(s): statoins" in error


def test_an_invalid_configuration_run_leaves_a_failed_row(airflow_db, engine):
    config_id = _config(engine)
    with session_scope(engine) as s:
        s.execute(update(PullConfiguration).where(PullConfiguration.id == config_id).values(schedule_value="not cron"))
    run = _dag(engine, config_id).test()
    assert run.state == "failed"
    (status, error, end_time), = _rows(engine, config_id)
    assert status == "failed" and end_time is not None
    assert f"configuration {config_id} is invalid" in error and "not cron" in error


def test_finalize_closes_the_row_when_the_schedule_never_fires(airflow_db, engine, fake):
    """A schedule that escaped validation (30 February) used to crash finalize, leaving `running`."""
    config_id = _config(engine)
    with session_scope(engine) as s:
        row = next(r for r in repo.load_configuration_rows(s) if r["id"] == config_id)
    config = dataclasses.replace(
        validate_configuration(row), schedule_type=ScheduleType.CRON, schedule_value="0 0 30 2 *"
    )
    run = build_dag(config).test(run_conf={"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-06-03T00:00:00Z"})
    assert run.state == "success"
    (status, error, end_time), = _rows(engine, config_id)
    assert (status, error) == ("success", None) and end_time is not None
