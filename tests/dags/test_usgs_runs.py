"""End-to-end dag.test() runs of USGS configurations against a stand-in Water Data API
(streamflow/testing/fakes/usgs.py): history once, then only what is new; params; a failure halfway."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog, DischargeObservation, Station
from streamflow.factory import build_dags
from streamflow.testing.fakes.usgs import DAILY, FakeUsgs
from streamflow.testing.replay import Response

UTC = timezone.utc
STATIONS = ["01646500", "02458502"]


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def fake(replay) -> FakeUsgs:
    return FakeUsgs(replay, until=_now() - timedelta(days=3))


def _config(engine, *, start: datetime, data_type: str = "daily_mean", stations=STATIONS, strategy="append") -> str:
    with session_scope(engine) as s:
        config = repo.create_configuration(
            s, name=f"usgs {data_type}", data_type=data_type, data_strategy=strategy, pull_start_date=start,
            schedule_type="daily", stations=[{"station_number": n} for n in stations],
        )
        return config.id


def _dag(engine, config_id):
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    return build_dags(rows)[f"streamflow_config_{config_id}"]


def _run(engine, config_id, conf=None):
    """A fresh DAG object per run: dag.test() merges run_conf into the DAG's params in place."""
    return _dag(engine, config_id).test(run_conf=conf)


def _stored(engine, station: str, kind: str = "daily_mean") -> dict[datetime, tuple[float, str]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(DischargeObservation.observed_at, DischargeObservation.discharge, DischargeObservation.quality_code)
            .join(Station, Station.id == DischargeObservation.station_id)
            .where(Station.station_number == station, DischargeObservation.type == kind)
        ).all()
    return {when: (value, quality) for when, value, quality in rows}


def _expected_daily(fake: FakeUsgs, station: str, first: datetime) -> dict[datetime, float]:
    return {
        datetime.fromisoformat(key).replace(tzinfo=UTC): fake.value(station, key)
        for key in fake.daily_keys(first.date(), fake.until.date())
    }


def _progress(engine, config_id, station):
    with session_scope(engine) as s:
        return repo.get_progress(s, config_id, station)


def _logs(engine, config_id):
    with session_scope(engine) as s:
        return [(g.status, g.records_processed, g.stations_failed, g.details, g.error_message)
                for g in s.execute(select(DataPullLog).where(DataPullLog.config_id == config_id).order_by(DataPullLog.id)).scalars()]


def test_history_once_then_only_new_days(airflow_db, engine, fake, replay):
    start = datetime(2016, 1, 1, tzinfo=UTC)  # > 3,650 days: two chunks per station
    config_id = _config(engine, start=start)

    run = _run(engine, config_id)
    assert run.state == "success"
    for station in STATIONS:
        stored = _stored(engine, station)
        expected = _expected_daily(fake, station, start)
        assert {k: v for k, (v, _q) in stored.items()} == expected
        assert stored[min(stored)][1] == "A" and stored[max(stored)][1] == "P"
        assert _progress(engine, config_id, station) == max(expected)  # the last stored day, not "now"
    with session_scope(engine) as s:  # station rows came from the service's site metadata
        station = s.execute(select(Station).where(Station.station_number == "01646500")).scalar_one()
        assert station.name.startswith("POTOMAC RIVER") and station.state == "MD" and station.agency == "USGS"
    daily_requests = replay.requests_to(DAILY)
    assert len(daily_requests) == 4  # 2 stations x 2 chunks
    (status, records, failed, details, error), = _logs(engine, config_id)
    assert (status, failed, error) == ("success", 0, None)
    assert records == sum(len(_expected_daily(fake, s, start)) for s in STATIONS)
    assert details["01646500"]["chunks_total"] == 2 and details["01646500"]["status"] == "success"

    # Three new days arrive and USGS revises a provisional value inside the overlap.
    first_progress = _progress(engine, config_id, "01646500")
    revised_day = (first_progress - timedelta(days=2)).date().isoformat()
    fake.revise("01646500", revised_day, 12345.0)
    fake.until = _now()
    replay.requests.clear()
    before = {s: len(_stored(engine, s)) for s in STATIONS}

    run = _run(engine, config_id)
    assert run.state == "success"
    second = replay.requests_to(DAILY)
    assert len(second) == 2  # one small request per station
    for request in second:
        asked_from = request.arg("time").split("/")[0]
        assert asked_from == (first_progress - timedelta(days=7)).date().isoformat()  # progress minus overlap
    for station in STATIONS:
        stored = _stored(engine, station)
        assert {k: v for k, (v, _q) in stored.items()} == _expected_daily(fake, station, start)
        new_days = len(fake.daily_keys((first_progress + timedelta(days=1)).date(), fake.until.date()))
        assert len(stored) == before[station] + new_days  # nothing duplicated
        assert _progress(engine, config_id, station) == max(stored)
    assert _stored(engine, "01646500")[datetime.fromisoformat(revised_day).replace(tzinfo=UTC)][0] == 12345.0
    logs = _logs(engine, config_id)
    assert [g[0] for g in logs] == ["success", "success"]
    assert logs[1][1] >= 2 * 3  # new days (+ the revision) written


def test_failure_halfway_resumes_without_gaps_or_duplicates(airflow_db, engine, fake, replay, monkeypatch):
    monkeypatch.setenv("STREAMFLOW_TASK_RETRIES", "0")
    start = datetime(2012, 1, 1, tzinfo=UTC)  # ~5,400 days: two chunks
    config_id = _config(engine, start=start, stations=["01646500"])
    # The service fails every request for the second chunk (dates after the first 3,650 days).
    boundary = (start + timedelta(days=3650)).date().isoformat()
    replay.add(
        DAILY, Response(503, {"code": "ServiceUnavailable", "description": "try later"}),
        first=True, times=None,
    )
    replay.routes[0].matches = lambda request, _orig=replay.routes[0].matches: (
        _orig(request) and request.arg("time", ).split("/")[0] >= boundary
    )

    run = _run(engine, config_id)
    assert run.state == "failed"
    stored = _stored(engine, "01646500")
    progress = _progress(engine, config_id, "01646500")
    assert progress == max(stored)  # progress = the last committed chunk's latest day
    assert progress.date().isoformat() <= boundary
    (status, _records, failed, details, error), = _logs(engine, config_id)
    assert (status, failed) == ("failed", 1)
    assert "usgs: station 01646500: service unavailable (HTTP 503" in error
    assert details["01646500"]["retryable"] is True

    replay.routes.pop(0)  # the service recovers
    run = _run(engine, config_id)
    assert run.state == "success"
    assert {k: v for k, (v, _q) in _stored(engine, "01646500").items()} == _expected_daily(fake, "01646500", start)


def test_params_subset_window_overwrite_and_full_refresh(airflow_db, engine, fake, replay):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    config_id = _config(engine, start=start)

    run = _run(engine, config_id, {"stations": ["02458502"], "start_date": "2026-06-01T00:00:00Z",
                             "end_date": "2026-06-10T00:00:00Z"})
    assert run.state == "success"
    assert _stored(engine, "01646500") == {}
    assert sorted(_stored(engine, "02458502")) == [datetime(2026, 6, d, tzinfo=UTC) for d in range(1, 11)]

    # Overwrite replaces the stored range: a value USGS withdrew disappears, revisions land.
    withdrawn = datetime(2026, 6, 5, tzinfo=UTC)
    fake.revise("02458502", "2026-06-06", 777.0)
    original = fake.daily_keys
    fake.daily_keys = lambda a, b: [k for k in original(a, b) if k != "2026-06-05"]
    run = _run(engine, config_id, {"stations": ["02458502"], "data_strategy": "overwrite", "end_date": "2026-06-10T00:00:00Z"})
    assert run.state == "success"
    stored = _stored(engine, "02458502")
    assert withdrawn not in stored
    assert stored[datetime(2026, 6, 6, tzinfo=UTC)][0] == 777.0
    assert min(stored) == start  # overwrite re-reads from pull_start_date
    fake.daily_keys = original

    # Full refresh ignores progress: the whole history again, nothing duplicated.
    replay.requests.clear()
    run = _run(engine, config_id, {"full_refresh": True})
    assert run.state == "success"
    assert all(r.arg("time").startswith("2026-01-01/") for r in replay.requests_to(DAILY))
    for station in STATIONS:
        assert {k: v for k, (v, _q) in _stored(engine, station).items()} == _expected_daily(fake, station, start)


def test_unknown_station_param_is_refused_at_trigger_naming_it(airflow_db, engine, fake):
    from airflow.sdk.definitions.param import ParamValidationError

    config_id = _config(engine, start=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ParamValidationError, match="09999999"):
        _run(engine, config_id, {"stations": ["09999999"]})
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(DischargeObservation)).scalar() == 0
        assert s.execute(select(func.count()).select_from(DataPullLog)).scalar() == 0


def test_bad_param_is_rejected_naming_it(airflow_db, engine, fake):
    from airflow.sdk.definitions.param import ParamValidationError

    config_id = _config(engine, start=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ParamValidationError, match="data_strategy"):
        _run(engine, config_id, {"data_strategy": "bogus"})
    with pytest.raises(ParamValidationError, match="start_date"):
        _run(engine, config_id, {"start_date": "last tuesday"})


def test_plan_hands_the_parsed_params_and_region_to_the_pull_tasks(airflow_db, engine, fake):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from streamflow.db.models import MasterStation

    with session_scope(engine) as s:
        s.add(MasterStation(station_number="02458502", station_name="VILLAGE CREEK", state_code="AL", agency="USGS"))
    config_id = _config(engine, start=datetime(2026, 1, 1, tzinfo=UTC))
    run = _run(engine, config_id, {"start_date": "2026-06-01T02:00:00+02:00", "end_date": "2026-06-03T00:00:00Z"})
    assert run.state == "success"
    with create_session() as session:
        xcom = session.scalars(
            XComModel.get_many(run_id=run.run_id, key="return_value", dag_ids=run.dag_id, task_ids="plan")
        ).first()
        mapped = XComModel.deserialize_value(xcom)
    params = {
        "stations": [], "start_date": "2026-06-01T00:00:00Z", "end_date": "2026-06-03T00:00:00Z",
        "data_strategy": None, "full_refresh": False,
    }
    assert mapped == [
        {"station_number": "01646500", "agency": "USGS", "region": None, "params": params},
        {"station_number": "02458502", "agency": "USGS", "region": "AL", "params": params},
    ]
    (_status, _records, _failed, details, _error), = _logs(engine, config_id)
    assert details["01646500"]["window"] == "2026-06-01T00:00:00Z → 2026-06-03T00:00:00Z"
