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
