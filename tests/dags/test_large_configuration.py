"""A configuration larger than Airflow's ``max_map_length`` (1,024) runs end to end: the run maps
over station batches, and progress, outcomes and the pull-log details stay per station
(docs/adr/0017-station-batches.md). dag.test() against the USGS stand-in, a two-day window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog, MasterStation, PullStationProgress
from streamflow.factory import build_dags
from streamflow.testing.fakes.usgs import DAILY, FakeUsgs
from streamflow.testing.replay import Response

UTC = timezone.utc
COUNT = 5_000


@pytest.mark.timeout(1200)  # ~4 min alone, twice that on a loaded machine
@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_five_thousand_stations_run_in_batches_with_per_station_outcomes(airflow_db, engine, replay, monkeypatch):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    monkeypatch.setenv("STREAMFLOW_RETRIES_USGS", "0")
    monkeypatch.setenv("STREAMFLOW_MAX_MAPPED_TASKS", "8")  # batches of 625: a short dag.test()
    until = datetime.now(UTC) - timedelta(days=3)
    FakeUsgs(replay, until=until)  # registers the replayed USGS routes
    numbers = [f"{10_000_000 + i * 7}" for i in range(COUNT)]
    broken = numbers[1234]
    # The service answers garbage for one station: it fails (permanently), its batch goes on.
    route = replay.add(DAILY, Response(200, "<html>maintenance</html>", headers={"Content-Type": "application/geo+json"}),
                       first=True, times=None)
    route.matches = lambda request, _orig=route.matches: (
        _orig(request) and request.arg("monitoring_location_id") == f"USGS-{broken}"
    )
    with session_scope(engine) as s:
        # Listed stations get their station row from master_stations (no metadata request each).
        s.execute(MasterStation.__table__.insert(), [
            {"station_number": n, "station_name": f"Gauge {n}", "state_code": "MD", "agency": "USGS"} for n in numbers
        ])
        config = repo.create_configuration(
            s, name="five thousand", data_type="daily_mean", data_strategy="append",
            pull_start_date=datetime(2020, 1, 1, tzinfo=UTC), schedule_type="manual",
            stations=[{"station_number": n, "agency": "USGS"} for n in numbers],
        )
        config_id = config.id
        rows = repo.load_configuration_rows(s)
    dag = build_dags(rows)[f"streamflow_config_{config_id}"]
    end = until.replace(hour=0, minute=0, second=0, microsecond=0)
    conf = {"start_date": (end - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
            "end_date": end.isoformat().replace("+00:00", "Z")}
    run = dag.test(run_conf=conf)

    assert run.state == "failed"  # one station failed
    with create_session() as session:
        pulls = session.scalars(select(TaskInstance).where(
            TaskInstance.run_id == run.run_id, TaskInstance.task_id == "pull_usgs")).all()
    assert 1 < len(pulls) <= 1_000
    assert sorted(ti.state for ti in pulls).count("failed") == 1
    assert all("stations)" in ti.rendered_map_index for ti in pulls)
    with session_scope(engine) as s:
        log = s.execute(select(DataPullLog).where(DataPullLog.config_id == config_id)).scalars().one()
        progressed = s.execute(select(func.count()).select_from(PullStationProgress)
                               .where(PullStationProgress.config_id == config_id)).scalar()
    assert (log.status, log.stations_total, log.stations_failed) == ("failed", COUNT, 1)
    assert set(log.details) == set(numbers)
    assert log.details[broken]["status"] == "failed" and broken in log.error_message
    assert sum(d["status"] == "success" for d in log.details.values()) == COUNT - 1
    assert log.records_processed == 2 * (COUNT - 1)  # two days per station
    assert progressed == COUNT - 1
