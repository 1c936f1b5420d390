"""End to end with real Airflow: an observation pull DAG (stand-in USGS service on the replay
server) lands rows and emits an asset event with stations, rows, window and the range it wrote;
the streamflow_verification DAG verifies the forecast runs those observations touch; a revised
provisional value re-verifies only the affected bin; an append that only adds new rows
re-verifies only the runs those rows reach, not every run in the re-read overlap."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from streamflow.canonical import ForecastRunData
from streamflow.db import repository as repo
from streamflow.db import verification as ver
from streamflow.db.engine import session_scope
from streamflow.db.models import ForecastRun
from streamflow.factory import build_dags
from streamflow.operators.verification import VerifyForecastsOperator
from streamflow.testing.fakes.usgs import FakeUsgs
from streamflow.verification.dag import VERIFICATION_DAG_ID, build_verification_dag
from streamflow.verification.events import asset_for, scopes_from_events

UTC = timezone.utc
STATION = "01646500"
H = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
BIAS = 10.0


@pytest.fixture
def until() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)


@pytest.fixture
def fake(replay, until) -> FakeUsgs:
    return FakeUsgs(replay, until=until)


def _asset_events(uri: str) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri).order_by(AssetEvent.id)
        ).scalars().all()
        for row in rows:
            session.expunge(row)
        return rows


def _step_mean(fake: FakeUsgs, end: datetime) -> float:
    """Observed value paired with an hourly value at ``end``: mean of the 15-min values in (end − 1 h, end]."""
    return sum(fake.value(STATION, (end - timedelta(minutes=15 * k)).isoformat()) for k in range(4)) / 4


def _configuration_with_runs(engine, fake, until, issue_times) -> int:
    """An hourly append configuration of STATION from 14 h before the service's "now", and an
    hourly NWM short-range run (12 values, each its step's observed mean + BIAS) per issue time."""
    with session_scope(engine) as s:
        config_id = repo.create_configuration(
            s, name="usgs iv", data_type="realtime_15min", data_strategy="append",
            pull_start_date=until - 14 * H, schedule_type="hourly", stations=[{"station_number": STATION}],
        ).id
        station_id = repo.ensure_station(s, STATION, "USGS")
        for issued in issue_times:
            values = tuple((issued + h * H, _step_mean(fake, issued + h * H) + BIAS) for h in range(1, 13))
            repo.insert_forecast_run(s, station_id, ForecastRunData(
                STATION, "NOAA_NWM_SHORT_RANGE", "nwm_short_range", issued, "cfs", values))
    return config_id


def _pull(engine, config_id):
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    dags = build_dags(rows)
    assert VERIFICATION_DAG_ID in dags
    return dags[f"streamflow_config_{config_id}"].test()


def _verify(event_extra: dict):
    """The verification DAG run by hand over what the event says the pull changed."""
    conf = {"stations": event_extra["stations"], "start_date": event_extra["written_start"],
            "end_date": event_extra["written_end"]}
    return build_verification_dag().test(run_conf=conf)


def test_pull_event_then_verification_then_revision(airflow_db, engine, fake, until):
    issued = until - 12 * H
    # an hourly NWM short-range run issued 12 h before the service's "now", biased by +10 cfs
    config_id = _configuration_with_runs(engine, fake, until, [issued])

    # 1. the pull lands 14 h of 15-min values and says so on the realtime_15min asset
    earlier = len(_asset_events(asset_for("realtime_15min").uri))  # Airflow's database lives per session
    assert _pull(engine, config_id).state == "success"
    events = _asset_events(asset_for("realtime_15min").uri)[earlier:]
    assert len(events) == 1
    extra = events[0].extra
    assert extra["data_type"] == "realtime_15min" and extra["stations"] == [STATION]
    assert extra["rows_written"] == extra["rows_fetched"] == 14 * 4 + 1
    assert datetime.fromisoformat(extra["start"]) == until - 14 * H
    assert scopes_from_events(events) == {STATION: (until - 14 * H, until)}  # the rows written

    # 2. the verification DAG scores the run the observations touch
    assert _verify(extra).state == "success"
    with session_scope(engine) as s:
        run_id = s.execute(select(ForecastRun.id)).scalar_one()
        rows = {r.lead_bin: r for r in ver.verification_rows(s, run_id)}
        assert s.get(ForecastRun, run_id).rmse == pytest.approx(BIAS)
    assert list(rows) == ["0-6h", "6-12h", "all"]
    for row in rows.values():
        assert row.status == "complete" and row.pairs_dropped == 0
        assert row.rmse == pytest.approx(BIAS) and row.mean_error == pytest.approx(BIAS) and row.mae == pytest.approx(BIAS)
    assert rows["all"].n_pairs == 12
    first_verified = {b: r.verified_at for b, r in rows.items()}

    # 3. USGS revises the provisional value at issued + 9 h 45 min (in the step of lead 10 h)
    revised = (issued + 9 * H + timedelta(minutes=45)).isoformat()
    fake.revise(STATION, revised, fake.value(STATION, revised) + 400.0)
    assert _pull(engine, config_id).state == "success"
    second = _asset_events(asset_for("realtime_15min").uri)[-1].extra
    assert second["rows_written"] == 1
    assert second["written_start"] == second["written_end"] == _z(datetime.fromisoformat(revised))
    assert _verify(second).state == "success"
    with session_scope(engine) as s:
        after = {r.lead_bin: r for r in ver.verification_rows(s, run_id)}
    assert after["0-6h"].rmse == pytest.approx(BIAS)
    assert after["0-6h"].verified_at > first_verified["0-6h"]  # the run's rows are rewritten together
    # lead 10 h: the observed step mean rose by 400 / 4 = 100 → error 10 − 100 = −90
    assert after["6-12h"].rmse == pytest.approx(math.sqrt((5 * BIAS**2 + 90**2) / 6))
    assert after["6-12h"].mean_error == pytest.approx((5 * BIAS - 90) / 6)
    assert after["all"].rmse == pytest.approx(math.sqrt((11 * BIAS**2 + 90**2) / 12))


def _verify_events(events) -> dict:
    """What the verification task does with these triggering events (its returned counts)."""
    return VerifyForecastsOperator(task_id="verify").execute(
        {"triggering_asset_events": {asset_for("realtime_15min"): events}, "params": {}}
    )


def test_append_of_new_rows_verifies_only_the_runs_they_reach(airflow_db, engine, fake, until):
    # run A ends at the service's "now"; run B reaches 11 h past it
    config_id = _configuration_with_runs(engine, fake, until, [until - 12 * H, until - H])
    uri = asset_for("realtime_15min").uri

    # 1. the first pull writes everything it fetched: the written range is the rows' range
    earlier = len(_asset_events(uri))
    assert _pull(engine, config_id).state == "success"
    first = _asset_events(uri)[earlier:]
    assert len(first) == 1
    extra = first[0].extra
    assert extra["rows_written"] == 14 * 4 + 1
    assert (extra["written_start"], extra["written_end"]) == (_z(until - 14 * H), _z(until))
    assert _verify_events(first)["runs_considered"] == 2

    # 2. three hours later the service has 12 new values; the append re-reads the 6 h overlap
    fake.until = until + 3 * H
    assert _pull(engine, config_id).state == "success"
    second = _asset_events(uri)[earlier + 1:]
    assert len(second) == 1
    extra = second[0].extra
    assert extra["rows_fetched"] == 9 * 4 + 1 and extra["rows_written"] == 12
    assert extra["start"] == _z(until - 6 * H)  # the window: progress − overlap
    assert (extra["written_start"], extra["written_end"]) == (_z(until + 15 * MINUTE), _z(until + 3 * H))
    assert scopes_from_events(second) == {STATION: (until + 15 * MINUTE, until + 3 * H)}
    # run A ends before the first new row: only run B is verified again
    result = _verify_events(second)
    assert result["runs_considered"] == 1 and result["runs_changed"] == 1 and result["partial"] == 1
    # the window would have taken both (what events recorded before the written range still do)
    older = {k: v for k, v in extra.items() if not k.startswith("written_")}
    assert _verify_events([older])["runs_considered"] == 2

    # 3. nothing new at the service: the pull re-reads the overlap, writes nothing, verifies nothing
    assert _pull(engine, config_id).state == "success"
    third = _asset_events(uri)[-1].extra
    assert third["rows_written"] == 0 and third["written_start"] is None
    assert _verify_events([third])["runs_considered"] == 0


def _z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_scopes_come_from_the_triggering_events():
    class Event:
        def __init__(self, extra):
            self.extra = extra

    day = "2026-06-01T00:00:00Z"
    events = {asset_for("daily_mean"): [
        Event({"stations": ["A"], "rows_written": 3, "start": day, "end": "2026-06-02T00:00:00Z"}),
        Event({"stations": ["B"], "rows_written": 3, "start": day, "end": "2026-06-02T00:00:00Z"}),
        Event({"stations": ["A"], "rows_written": 1, "start": "2026-05-30T00:00:00Z", "end": day}),
        Event({"stations": ["C"], "rows_written": 0, "start": day, "end": day}),  # nothing landed
    ]}
    scopes = VerifyForecastsOperator(task_id="v")._scopes({"triggering_asset_events": events, "params": {}})
    one = datetime(2026, 6, 1, tzinfo=UTC)
    assert scopes == {
        (datetime(2026, 5, 30, tzinfo=UTC), one + timedelta(days=1)): ["A"],
        (one, one + timedelta(days=1)): ["B"],
    }


def test_bad_params_fail_with_a_message(airflow_db, engine):
    run = build_verification_dag().test(run_conf={"start_date": "2026-06-02T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"})
    assert run.state == "failed"


def test_a_worker_running_verification_builds_only_that_dag(engine, monkeypatch):
    from streamflow.loading import generate_dags

    with session_scope(engine) as s:
        repo.create_configuration(
            s, name="usgs", data_type="daily_mean", data_strategy="append", pull_start_date=datetime(2024, 1, 1, tzinfo=UTC),
            schedule_type="daily", stations=[{"station_number": STATION}],
        )
    assert set(generate_dags()) == {"streamflow_config_1", VERIFICATION_DAG_ID}
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", VERIFICATION_DAG_ID)
    assert list(generate_dags()) == [VERIFICATION_DAG_ID]
