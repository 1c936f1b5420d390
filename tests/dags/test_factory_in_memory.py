"""The factory builds DAGs from value objects alone: no database, no network (docs/architecture.md#dag-factory)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from streamflow.configurations import InvalidConfig, PullConfig, StationSpec
from streamflow.factory import build_dag
from streamflow.vocabulary import Agency, DataStrategy, DataType, ScheduleType


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    # Any attempt to reach the streamflow database would fail loudly (nothing listens on port 1).
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")


def _config(**changes) -> PullConfig:
    values = dict(
        id=7, name="Potomac and Fraser", description="two agencies", data_type=DataType.DAILY_MEAN,
        data_strategy=DataStrategy.APPEND, pull_start_date=datetime(2020, 1, 1, tzinfo=timezone.utc),
        schedule_type=ScheduleType.DAILY, schedule_value=None, is_enabled=True,
        stations=(StationSpec("01646500", Agency.USGS), StationSpec("08MF005", Agency.EC)),
    )
    values.update(changes)
    return PullConfig(**values)


def test_a_two_agency_configuration_builds_plan_pulls_finalize():
    dag = build_dag(_config())
    assert dag.dag_id == "streamflow_config_7"
    assert {"plan", "pull_usgs", "pull_eccc", "finalize"} <= set(dag.task_dict)
    assert dag.task_dict["pull_usgs"].pool == "usgs_api" and dag.task_dict["pull_eccc"].pool == "eccc_api"
    assert dag.task_dict["plan"].downstream_task_ids == {"pull_usgs", "pull_eccc"}
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert "streamflow" in dag.tags and "daily_mean" in dag.tags


def test_a_disabled_configuration_has_no_schedule():
    dag = build_dag(_config(is_enabled=False))
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: only manual runs
    assert "disabled" in dag.tags


def test_an_invalid_configuration_builds_its_failing_dag():
    dag = build_dag(InvalidConfig(9, "broken", ("data_type 'hourly' is not one of …",)))
    assert dag.dag_id == "streamflow_config_9" and "invalid" in dag.tags
    assert list(dag.task_dict) == ["invalid_configuration"]
