"""Replayed NOAA forecasts (RFC stageflow of FIHM1, NWM short range of reach 724696) pulled by their
DAGs, observations written through the repository, then verified: values checked by hand."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import select

from streamflow.db import repository as repo
from streamflow.db import verification as ver
from streamflow.db.engine import session_scope
from streamflow.db.models import ForecastRun, StationMapping
from streamflow.factory import build_dags
from streamflow.testing.replay import fixture_bytes

UTC = timezone.utc
JSON = {"Content-Type": "application/json"}
NWM_STATION, RFC_STATION = "01013500", "01014000"  # both forecast through NWS location FIHM1
CMS_PER_CFS = 0.028316846592


def _pull(engine, name: str, data_type: str, station: str) -> None:
    with session_scope(engine) as s:
        config_id = repo.create_configuration(
            s, name=name, data_type=data_type, data_strategy="append", pull_start_date=datetime(2026, 1, 1, tzinfo=UTC),
            schedule_type="hourly", stations=[{"station_number": station}],
        ).id
        rows = repo.load_configuration_rows(s)
    assert build_dags(rows)[f"streamflow_config_{config_id}"].test().state == "success"


def _run(engine, source: str) -> tuple[int, datetime, list[tuple[datetime, float]]]:
    with session_scope(engine) as s:
        run = s.execute(select(ForecastRun).where(ForecastRun.source == source)).scalar_one()
        values = sorted((datetime.fromisoformat(v["valid_time"]), v["value"]) for v in run.data)
        assert run.unit == "cfs"
        return run.id, run.run_date, values


def _write(engine, station: str, rows: list[tuple[datetime, float]], unit: str) -> None:
    frame = pd.DataFrame({
        "station_number": station, "observed_at": [t for t, _ in rows], "discharge": [v for _, v in rows],
        "unit": unit, "quality_code": "P", "data_type": "realtime_15min",
    })
    with session_scope(engine) as s:
        station_id = repo.ensure_station(s, station, "USGS")
        repo.upsert_observations(s, frame, {station: station_id})


@pytest.fixture
def pulled(airflow_db, engine, replay):
    with session_scope(engine) as s:
        for station in (NWM_STATION, RFC_STATION):
            s.add(StationMapping(source_agency="USGS", source_id=station, target_agency="NOAA-HADS", target_id="FIHM1"))
    replay.add("/nwps/v1/gauges/FIHM1", fixture_bytes("noaa/gauge_FIHM1.json"), headers=JSON)
    replay.add("/nwps/v1/gauges/FIHM1/stageflow/forecast", fixture_bytes("noaa/stageflow_FIHM1.json"), headers=JSON)
    replay.add("/nwps/v1/reaches/724696/streamflow", fixture_bytes("noaa/reach_724696_streamflow_short_range.json"),
               headers=JSON)
    _pull(engine, "nwm", "nwm_short_range", NWM_STATION)
    _pull(engine, "rfc", "rfc_forecast", RFC_STATION)
    return {"nwm": _run(engine, "NOAA_NWM_SHORT_RANGE"), "rfc": _run(engine, "NOAA_RFC")}


def test_replayed_rfc_and_nwm_forecasts_verified_by_hand(engine, pulled):
    nwm_id, nwm_issued, nwm_values = pulled["nwm"]
    rfc_id, rfc_issued, rfc_values = pulled["rfc"]
    assert nwm_issued == datetime(2026, 11, 20, 12, tzinfo=UTC) and len(nwm_values) == 18
    assert rfc_issued == datetime(2026, 11, 20, 13, 42, tzinfo=UTC) and len(rfc_values) == 6

    # NWM (hourly, cfs) vs hourly observations in cms that are 3 cfs below every forecast value;
    # at the issue time the gauge read 4,100 cfs (persistence).
    _write(engine, NWM_STATION, [(nwm_issued, 4_100 * CMS_PER_CFS)]
           + [(t, (v - 3.0) * CMS_PER_CFS) for t, v in nwm_values], "cms")
    # RFC (6-hourly; kcfs stored as cfs) vs 15-minute observations: within each 6-hour step ending
    # at a valid time, half the values are 40 cfs and half 60 cfs below the forecast (step mean: −50).
    ahead = [(t, v) for t, v in rfc_values if t >= rfc_issued]
    assert len(ahead) == 5  # the value valid at 12:00, before the 13:42 issue, is not a forecast
    rows = []
    for t, v in ahead:
        for k in range(24):
            rows.append((t - timedelta(minutes=15 * k), v - (40.0 if k % 2 else 60.0)))
    _write(engine, RFC_STATION, rows, "cfs")

    with session_scope(engine) as s:
        result = ver.verify_range(s, None, datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
        assert result.runs_changed == 2 and not result.failed
        nwm = {r.lead_bin: r for r in ver.verification_rows(s, nwm_id)}
        rfc = {r.lead_bin: r for r in ver.verification_rows(s, rfc_id)}

    assert list(nwm) == ["0-6h", "6-12h", "12-24h", "all"]
    assert [nwm[b].n_pairs for b in nwm] == [6, 6, 6, 18]
    for row in nwm.values():
        assert row.unit == "cfs" and row.status == "complete" and row.pairs_dropped == 0
        assert row.rmse == pytest.approx(3.0, rel=1e-9) and row.mean_error == pytest.approx(3.0, rel=1e-9)
    # persistence 4,100 cfs against the first six observations
    first_six = [v - 3.0 for _t, v in nwm_values[:6]]
    persistence_rmse = math.sqrt(sum((4_100 - o) ** 2 for o in first_six) / 6)
    assert nwm["0-6h"].persistence_rmse == pytest.approx(persistence_rmse, rel=1e-9)
    assert nwm["0-6h"].skill == pytest.approx(1 - 3.0 / persistence_rmse, rel=1e-9)

    whole = rfc["all"]
    assert (whole.n_pairs, whole.pairs_dropped, whole.status) == (5, 1, "complete")
    assert whole.rmse == pytest.approx(50.0) and whole.mean_error == pytest.approx(50.0) and whole.mae == pytest.approx(50.0)
    # persistence: the last observation before 13:42 is 13:30, in the first step: 18:00's value − 60
    persistence = ahead[0][1] - 60.0
    assert whole.persistence_rmse == pytest.approx(math.sqrt(sum((persistence - (v - 50)) ** 2 for _t, v in ahead) / 5))
    with session_scope(engine) as s:
        assert s.get(ForecastRun, rfc_id).rmse == pytest.approx(50.0)
        assert s.get(ForecastRun, nwm_id).rmse == pytest.approx(3.0, rel=1e-9)
