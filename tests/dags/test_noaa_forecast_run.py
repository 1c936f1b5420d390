"""End-to-end dag.test() of a NOAA RFC forecast configuration against the replay server."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog, ForecastRun, StationMapping
from streamflow.factory import build_dags
from streamflow.testing.replay import fixture_bytes

UTC = timezone.utc


def test_rfc_forecast_stored_once(airflow_db, engine, replay):
    with session_scope(engine) as s:
        s.add(StationMapping(source_agency="USGS", source_id="01013500", target_agency="NOAA-HADS", target_id="FIHM1"))
        config = repo.create_configuration(
            s, name="rfc", data_type="rfc_forecast", data_strategy="append",
            pull_start_date=datetime(2026, 1, 1, tzinfo=UTC), schedule_type="hourly",
            stations=[{"station_number": "01013500"}, {"station_number": "01646500"}],
        )
        config_id = config.id
    replay.add("/nwps/v1/gauges/FIHM1/stageflow/forecast", fixture_bytes("noaa/stageflow_FIHM1.json"),
               headers={"Content-Type": "application/json"})
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    dag = build_dags(rows)[f"streamflow_config_{config_id}"]
    run = dag.test()
    assert run.state == "success"
    with session_scope(engine) as s:
        runs = s.execute(select(ForecastRun)).scalars().all()
        log = s.execute(select(DataPullLog)).scalars().one()
    assert len(runs) == 1
    assert log.status == "success"
    assert log.details["01646500"]["status"] == "skipped"


def test_a_run_whose_every_station_is_skipped_is_failed_and_says_so(airflow_db, engine, replay):
    """Forecast stations without a NOAA mapping: nothing can ever be pulled, so the run is not green."""
    with session_scope(engine) as s:
        config = repo.create_configuration(
            s, name="rfc unmapped", data_type="rfc_forecast", data_strategy="append",
            pull_start_date=datetime(2026, 1, 1, tzinfo=UTC), schedule_type="manual",
            stations=[{"station_number": "01646500"}, {"station_number": "02458502"}],
        )
        config_id = config.id
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    run = build_dags(rows)[f"streamflow_config_{config_id}"].test()
    assert run.state == "failed"
    with session_scope(engine) as s:
        log = s.execute(select(DataPullLog).where(DataPullLog.config_id == config_id)).scalars().one()
    assert (log.status, log.stations_failed) == ("failed", 0)
    assert log.error_message.startswith("every station was skipped, nothing was pulled: 2 of 2 station(s) skipped")
    assert "01646500: skipped: no NOAA-HADS mapping" in log.error_message
    assert {d["status"] for d in log.details.values()} == {"skipped"}
