"""End-to-end dag.test() runs of EC (real-time and HYDAT daily) and NOAA NWM configurations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog, DischargeObservation, ForecastRun, MasterStation, Station, StationMapping
from streamflow.factory import build_dags
from streamflow.testing.fakes.eccc import FakeEccc
from streamflow.testing.replay import fixture_bytes

UTC = timezone.utc


def _config(engine, **kwargs) -> int:
    with session_scope(engine) as s:
        s.add(MasterStation(station_number="08MF005", station_name="FRASER RIVER AT HOPE", latitude=49.38,
                            longitude=-121.45, state_code="BC", agency="EC"))
        config = repo.create_configuration(s, data_strategy="append", schedule_type="hourly", **kwargs)
        return config.id


def _run(engine, config_id, conf=None):
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    return build_dags(rows)[f"streamflow_config_{config_id}"].test(run_conf=conf)


def _stored(engine, station, kind):
    with session_scope(engine) as s:
        rows = s.execute(
            select(DischargeObservation.observed_at, DischargeObservation.discharge, DischargeObservation.unit,
                   DischargeObservation.quality_code)
            .join(Station, Station.id == DischargeObservation.station_id)
            .where(Station.station_number == station, DischargeObservation.type == kind)
            .order_by(DischargeObservation.observed_at)
        ).all()
    return [tuple(r) for r in rows]


def test_ec_realtime_history_across_the_seam_then_append(airflow_db, engine, replay):
    now = datetime.now(UTC)
    fake = FakeEccc(replay, until=now - timedelta(hours=2))
    start = (now - timedelta(days=60)).replace(hour=0, minute=0, second=0, microsecond=0)
    config_id = _config(engine, name="ec rt", data_type="realtime_15min", pull_start_date=start,
                        stations=[{"station_number": "08MF005"}])
    assert _run(engine, config_id).state == "success"

    stored = _stored(engine, "08MF005", "realtime_15min")
    instants = [r[0] for r in stored]
    # Every 5 minutes from the start to the newest value: no gap and no duplicate at the seam.
    expected = []
    t = start
    while t <= fake.until:
        expected.append(t)
        t += timedelta(minutes=5)
    newest = fake.datamart_instants()[-1]
    expected = [t for t in expected if t <= newest]
    assert instants == expected
    assert all(unit == "cms" for _t, _v, unit, _q in stored)
    assert all(value == FakeEccc.value("08MF005", t) for t, value, _u, _q in stored)
    assert {q for *_, q in stored} == {"P"}
    # The province came from the master list: the Datamart file of BC was read.
    assert replay.requests_to("/today/hydrometric/csv/BC/daily/BC_08MF005_daily_hydrometric.csv")
    assert replay.requests_to("/services/real_time_data/csv/inline")
    with session_scope(engine) as s:
        assert repo.get_progress(s, config_id, "08MF005") == instants[-1]

    fake.until = now
    replay.requests.clear()
    assert _run(engine, config_id).state == "success"
    again = [r[0] for r in _stored(engine, "08MF005", "realtime_15min")]
    assert len(again) == len(set(again))
    assert again[-1] == fake.datamart_instants()[-1] and again[: len(instants)] == instants
    assert not replay.requests_to("/services/real_time_data/csv/inline")  # only the recent file again


def test_ec_daily_means_from_hydat(airflow_db, engine, replay):
    now = datetime.now(UTC)
    fake = FakeEccc(replay, until=now)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    config_id = _config(engine, name="ec daily", data_type="daily_mean", pull_start_date=start,
                        stations=[{"station_number": "08MF005"}])
    assert _run(engine, config_id).state == "success"
    stored = _stored(engine, "08MF005", "daily_mean")
    days = fake.daily_days(start.date(), now.date())
    assert [r[0].date() for r in stored] == days
    assert all(r[0].hour == 0 for r in stored)
    jan = [r for r in stored if r[0].month == 1]
    assert jan and all(q == "A,B" for *_, q in jan)  # HYDAT approved; B = ice
    assert all(q == "A" for t, _v, _u, q in stored if t.month != 1)
    assert stored[0][1] == FakeEccc.daily_value("08MF005", days[0])


def test_nwm_short_range_through_the_gauge_reach(airflow_db, engine, replay):
    with session_scope(engine) as s:
        s.add(StationMapping(source_agency="USGS", source_id="01013500", target_agency="NOAA-HADS", target_id="FIHM1"))
    config_id = _config(engine, name="nwm", data_type="nwm_short_range", pull_start_date=datetime(2026, 1, 1, tzinfo=UTC),
                        stations=[{"station_number": "01013500"}, {"station_number": "02458502"}])
    json_headers = {"Content-Type": "application/json"}
    replay.add("/nwps/v1/gauges/FIHM1", fixture_bytes("noaa/gauge_FIHM1.json"), headers=json_headers)
    replay.add("/nwps/v1/reaches/724696/streamflow", fixture_bytes("noaa/reach_724696_streamflow_short_range.json"),
               headers=json_headers)
    assert _run(engine, config_id).state == "success"
    assert _run(engine, config_id).state == "success"  # the same run issued again: stored once
    with session_scope(engine) as s:
        runs = s.execute(select(ForecastRun)).scalars().all()
        logs = s.execute(select(DataPullLog).order_by(DataPullLog.id)).scalars().all()
        progress = repo.get_progress(s, config_id, "01013500")
    assert len(runs) == 1
    assert runs[0].source == "NOAA_NWM_SHORT_RANGE" and runs[0].unit == "cfs"
    assert progress == runs[0].run_date
    assert [g.status for g in logs] == ["success", "success"]
    assert logs[0].details["02458502"]["status"] == "skipped"
    assert "NOAA-HADS" in logs[0].details["02458502"]["message"]
    assert logs[1].details["01013500"]["rows_written"] == 0
