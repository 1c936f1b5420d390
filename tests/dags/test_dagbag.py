"""The DAG file over a seeded database: zero import errors, one DAG per row, invalid rows isolated,
the snapshot fallback when the database is unreachable, and the worker's one-DAG build."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from streamflow.db import repository as repo
from streamflow.db.engine import dispose_engines, session_scope
from streamflow.db.models import PullConfiguration

UTC = timezone.utc
DAGS = Path(__file__).resolve().parents[2] / "dags"


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def seeded(engine):
    ids = {}
    with session_scope(engine) as s:
        for key, kwargs in {
            "usgs_daily": dict(data_type="daily_mean", schedule_type="daily", stations=["01646500", "02458502"]),
            "ec_realtime": dict(data_type="realtime_15min", schedule_type="hourly", stations=["08MF005"]),
            "broken": dict(data_type="daily_mean", schedule_type="cron", stations=["01646500"]),
            "disabled": dict(data_type="rfc_forecast", schedule_type="hourly", stations=["01646500"], is_enabled=False),
            "mixed": dict(data_type="daily_mean", schedule_type="manual", stations=["01646500", "08MF005"]),
        }.items():
            stations = [{"station_number": n} for n in kwargs.pop("stations")]
            config = repo.create_configuration(
                s, name=key, data_strategy="append", pull_start_date=datetime(2020, 1, 1, tzinfo=UTC),
                stations=stations, description=f"{key} description", **kwargs,
            )
            ids[key] = config.id
        # A row that escaped validation (written by hand): a cron type with a broken expression.
        s.execute(update(PullConfiguration).where(PullConfiguration.id == ids["broken"]).values(schedule_value="not cron"))
    return ids


def test_one_dag_per_row_and_broken_row_isolated(seeded):
    bag = _dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {f"streamflow_config_{i}" for i in seeded.values()} | {"streamflow_verification"}

    usgs = bag.dags[f"streamflow_config_{seeded['usgs_daily']}"]
    assert usgs.dag_display_name == "usgs_daily"
    assert usgs.description == "usgs_daily description"
    assert set(usgs.tags) == {"streamflow", "daily_mean", "append", "USGS"}
    assert usgs.max_active_runs == 1 and usgs.catchup is False
    assert usgs.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert {t.task_id for t in usgs.tasks} == {"plan", "pull_usgs", "finalize"}
    assert usgs.get_task("pull_usgs").pool == "usgs_api"
    assert [a.uri for a in usgs.get_task("pull_usgs").outlets] == ["streamflow://observations/daily_mean"]
    assert usgs.get_task("finalize").trigger_rule == "all_done"
    assert set(usgs.params.keys()) == {"stations", "start_date", "end_date", "data_strategy", "full_refresh"}

    ec = bag.dags[f"streamflow_config_{seeded['ec_realtime']}"]
    assert ec.get_task("pull_eccc").pool == "eccc_api"
    assert type(ec.timetable).__name__ == "CronTriggerTimetable" or "hourly" in str(ec.timetable.description).lower()

    mixed = bag.dags[f"streamflow_config_{seeded['mixed']}"]
    assert {t.task_id for t in mixed.tasks} == {"plan", "pull_usgs", "pull_eccc", "finalize"}
    assert type(mixed.timetable).__name__ == "NullTimetable"  # manual

    disabled = bag.dags[f"streamflow_config_{seeded['disabled']}"]
    assert "disabled" in disabled.tags
    assert type(disabled.timetable).__name__ == "NullTimetable"
    assert disabled.get_task("pull_noaa").pool == "noaa_api"

    broken = bag.dags[f"streamflow_config_{seeded['broken']}"]
    assert "invalid" in broken.tags
    assert [t.task_id for t in broken.tasks] == ["invalid_configuration"]
    assert "not a valid cron expression" in broken.description


def test_invalid_dag_task_fails_with_the_reasons(seeded, airflow_db):
    bag = _dagbag()
    broken = bag.dags[f"streamflow_config_{seeded['broken']}"]
    run = broken.test()
    assert run.state == "failed"


def test_unreachable_database_builds_from_snapshot(seeded, monkeypatch, caplog):
    first = _dagbag()
    assert len(first.dag_ids) == 6  # 5 configurations + streamflow_verification
    dispose_engines()
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    with caplog.at_level(logging.WARNING):
        second = _dagbag()
    assert second.import_errors == {}
    assert set(second.dag_ids) == set(first.dag_ids)
    assert "from the snapshot" in caplog.text
    assert "invalid" in second.dags[f"streamflow_config_{seeded['broken']}"].tags


def test_unreachable_database_without_snapshot_gives_no_dags_and_no_error(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    monkeypatch.setenv("STREAMFLOW_SNAPSHOT_PATH", str(tmp_path / "none.json"))
    bag = _dagbag()
    assert bag.import_errors == {}
    assert bag.dag_ids == ["streamflow_verification"]  # needs no configuration


def test_worker_builds_only_the_dag_it_runs(seeded, engine, monkeypatch):
    from sqlalchemy import event

    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    wanted = f"streamflow_config_{seeded['ec_realtime']}"
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", wanted)
    bag = _dagbag()
    assert bag.dag_ids == [wanted]
    assert len([s for s in statements if "pull_configurations" in s]) == 1
