"""Repository functions on SQLite and PostgreSQL (the `session` fixture runs both)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import select

from streamflow.db import repository as repo
from streamflow.db.models import DischargeObservation, ForecastRun, MasterStation, Station, StationMapping
from streamflow.canonical import ForecastRunData

UTC = timezone.utc


def _frame(station: str, start: datetime, values: list[float], *, step=timedelta(minutes=15), quality="P", kind="realtime_15min"):
    return pd.DataFrame(
        {
            "station_number": [station] * len(values),
            "observed_at": [start + i * step for i in range(len(values))],
            "discharge": values,
            "unit": ["cfs"] * len(values),
            "quality_code": [quality] * len(values),
            "data_type": [kind] * len(values),
        }
    )


def _stored(session, station_id, kind="realtime_15min"):
    rows = session.execute(
        select(DischargeObservation.observed_at, DischargeObservation.discharge, DischargeObservation.quality_code)
        .where(DischargeObservation.station_id == station_id, DischargeObservation.type == kind)
        .order_by(DischargeObservation.observed_at)
    ).all()
    return [tuple(r) for r in rows]


def test_resolve_station_id_direct_reverse_identity_unknown(session):
    session.add_all(
        [
            StationMapping(source_agency="USGS", source_id="01646500", target_agency="NOAA-HADS", target_id="BRKM2"),
            StationMapping(source_agency="NOAA-HADS", source_id="ISKQ2", target_agency="EC", target_id="08CG001"),
        ]
    )
    session.flush()
    assert repo.resolve_station_id(session, "01646500", "USGS", "NOAA-HADS") == "BRKM2"
    assert repo.resolve_station_id(session, "BRKM2", "NOAA-HADS", "USGS") == "01646500"  # reverse
    assert repo.resolve_station_id(session, "08CG001", "EC", "NOAA-HADS") == "ISKQ2"  # reverse of a reverse-written row
    assert repo.resolve_station_id(session, "01646500", "USGS", "USGS") == "01646500"  # identity
    assert repo.resolve_station_id(session, "99999999", "USGS", "NOAA-HADS") is None
    assert repo.resolve_station_id(session, "01646500", "USGS", "NOAA-NWM") is None


def test_ensure_station_from_master_then_metadata_and_idempotent(session):
    session.add(
        MasterStation(
            station_number="01646500", station_name="POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA",
            latitude=38.9497, longitude=-77.1275, state_code="MD", huc_code="02070008", drainage_area_sqmi=11560.0,
            agency="USGS",
        )
    )
    session.flush()
    sid = repo.ensure_station(session, "01646500", "USGS")
    assert repo.ensure_station(session, "01646500", "USGS") == sid
    station = session.get(Station, sid)
    assert station.name.startswith("POTOMAC RIVER")
    assert station.state == "MD" and station.huc_code == "02070008"
    assert station.catchment_area == pytest.approx(11560.0 * 2.589988)

    other = repo.ensure_station(session, "08MF005", "EC", {"name": "FRASER RIVER AT HOPE", "state": "BC", "bogus": 1})
    row = session.get(Station, other)
    assert (row.name, row.state, row.agency) == ("FRASER RIVER AT HOPE", "BC", "EC")
    bare = session.get(Station, repo.ensure_station(session, "02458502", "USGS"))
    assert bare.name == "02458502"
    assert session.execute(select(Station).where(Station.station_number == "01646500")).scalars().all().__len__() == 1


def test_upsert_inserts_then_replaces_revisions_without_duplicates(session):
    sid = repo.ensure_station(session, "01646500", "USGS")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    first = repo.upsert_observations(session, _frame("01646500", start, [100.0, 110.0, 120.0]), {"01646500": sid})
    assert (first.rows_in, first.rows_written) == (3, 3)
    assert first.latest == start + timedelta(minutes=30)

    # Same rows again: nothing rewritten. One revised value + one new row: two written.
    again = repo.upsert_observations(session, _frame("01646500", start, [100.0, 110.0, 120.0]), {"01646500": sid})
    assert again.rows_written == 0
    revised = _frame("01646500", start + timedelta(minutes=30), [125.0, 130.0], quality="A")
    result = repo.upsert_observations(session, revised, {"01646500": sid})
    assert result.rows_written == 2
    assert _stored(session, sid) == [
        (start, 100.0, "P"),
        (start + timedelta(minutes=15), 110.0, "P"),
        (start + timedelta(minutes=30), 125.0, "A"),
        (start + timedelta(minutes=45), 130.0, "A"),
    ]
    assert repo.count_observations(session, "01646500") == 4


def test_upsert_in_many_batches_and_types_are_separate(session):
    sid = repo.ensure_station(session, "01646500", "USGS")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    n = repo.SQLITE_BATCH_ROWS * 2 + 17
    big = _frame("01646500", start, [float(i) for i in range(n)])
    assert repo.upsert_observations(session, big, {"01646500": sid}).rows_written == n
    daily = _frame("01646500", start, [5.0], step=timedelta(days=1), kind="daily_mean")
    assert repo.upsert_observations(session, daily, {"01646500": sid}).rows_written == 1
    assert repo.count_observations(session, "01646500", "realtime_15min") == n
    assert repo.count_observations(session, "01646500", "daily_mean") == 1
    # revisions in the second and third batch only: the written range is theirs
    big.loc[[2_500, 4_010], "discharge"] = -1.0
    result = repo.upsert_observations(session, big, {"01646500": sid})
    step = timedelta(minutes=15)
    assert (result.rows_written, result.first_written, result.last_written) == (2, start + 2_500 * step, start + 4_010 * step)


def test_upsert_mixed_rows_in_one_frame_diff_exactly(session):
    """Several stations and types, NULL and mixed quality codes, a changed unit, a value left out."""
    a = repo.ensure_station(session, "01646500", "USGS")
    b = repo.ensure_station(session, "08MF005", "EC")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    step = timedelta(minutes=15)
    base = pd.concat(
        [
            _frame("01646500", start, [1.0, 2.0, 3.0, 4.0, 5.0]),
            _frame("08MF005", start, [10.0, 11.0], kind="daily_mean", step=timedelta(days=1)),
        ]
    )
    base.loc[base["data_type"] == "daily_mean", ["unit", "quality_code"]] = ["cms", None]
    ids = {"01646500": a, "08MF005": b}
    assert repo.upsert_observations(session, base, ids).rows_written == 7

    offer = _frame("01646500", start, [1.0, 2.0, 3.0, 4.0, 6.0])
    offer = offer.drop(index=[2])  # 00:30 not offered again: stays as stored
    offer.loc[1, "quality_code"] = "A"  # quality revised only
    offer.loc[3, "unit"] = "cms"  # unit revised only
    offer.loc[4, "quality_code"] = None  # value revised, quality now NULL
    daily = _frame("08MF005", start, [10.0, 11.5, 12.0], kind="daily_mean", step=timedelta(days=1), quality="Ü")
    daily["unit"] = "cms"
    daily.loc[0, "quality_code"] = None  # identical to stored: not rewritten
    result = repo.upsert_observations(session, pd.concat([offer, daily]), ids)
    assert (result.rows_in, result.rows_written) == (7, 5)
    # over every station and type: the first revision (00:15) to the last new day
    assert (result.first_written, result.last_written) == (start + step, start + timedelta(days=2))
    assert _stored(session, a) == [
        (start, 1.0, "P"), (start + step, 2.0, "A"), (start + 2 * step, 3.0, "P"),
        (start + 3 * step, 4.0, "P"), (start + 4 * step, 6.0, None),
    ]
    units = session.execute(
        select(DischargeObservation.unit).where(DischargeObservation.station_id == a).order_by(DischargeObservation.observed_at)
    ).scalars().all()
    assert units == ["cfs", "cfs", "cfs", "cms", "cfs"]
    day = timedelta(days=1)
    assert _stored(session, b, "daily_mean") == [(start, 10.0, None), (start + day, 11.5, "Ü"), (start + 2 * day, 12.0, "Ü")]
    assert repo.count_observations(session) == 8
    again = repo.upsert_observations(session, pd.concat([offer, daily]), ids)
    assert again.rows_written == 0
    assert (again.first_written, again.last_written) == (None, None)


def test_upsert_reports_the_range_it_wrote(session):
    """First and last observed_at of the rows inserted or revised; rows offered unchanged do not count."""
    sid = repo.ensure_station(session, "01646500", "USGS")
    ids = {"01646500": sid}
    start, step = datetime(2026, 10, 1, tzinfo=UTC), timedelta(minutes=15)
    values = [float(i) for i in range(10)]

    def written(frame):
        result = repo.upsert_observations(session, frame, ids)
        return result.rows_written, result.first_written, result.last_written

    # inserts only
    assert written(_frame("01646500", start, values)) == (10, start, start + 9 * step)
    # nothing changed: no range, while latest still says what was offered
    unchanged = repo.upsert_observations(session, _frame("01646500", start, values), ids)
    assert (unchanged.rows_written, unchanged.first_written, unchanged.last_written) == (0, None, None)
    assert unchanged.latest == start + 9 * step
    # revisions only, inside the offered window (00:45 and 01:30 of 00:00–02:15)
    revised = values.copy()
    revised[3], revised[6] = 30.5, 60.5
    assert written(_frame("01646500", start, revised)) == (2, start + 3 * step, start + 6 * step)
    # mixed: the overlap re-read unchanged except one revision, then new rows after it
    offer = _frame("01646500", start + 6 * step, [60.5, 7.5, 8.0, 9.0, 10.0, 11.0])  # 01:30 .. 02:45
    assert written(offer) == (3, start + 7 * step, start + 11 * step)
    # an append that only adds rows after the stored ones: the range starts at the first new row
    tail = _frame("01646500", start + 9 * step, [9.0, 10.0, 11.0, 12.0, 13.0])
    assert written(tail) == (2, start + 12 * step, start + 13 * step)
    assert written(tail) == (0, None, None)


def test_upsert_empty_frame_and_unknown_station(session):
    from streamflow.canonical import empty_observations

    assert repo.upsert_observations(session, empty_observations(), {}).rows_written == 0
    with pytest.raises(KeyError, match="02458502"):
        repo.upsert_observations(session, _frame("02458502", datetime(2026, 1, 1, tzinfo=UTC), [1.0]), {})


def test_replace_observations_overwrites_only_the_range(session):
    sid = repo.ensure_station(session, "01646500", "USGS")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    repo.upsert_observations(session, _frame("01646500", start, [1.0, 2.0, 3.0, 4.0]), {"01646500": sid})
    new = _frame("01646500", start + timedelta(minutes=15), [20.0])  # the source dropped the 30-min value
    repo.replace_observations(
        session, new, {"01646500": sid}, station_number="01646500", data_type="realtime_15min",
        start=start + timedelta(minutes=15), end=start + timedelta(minutes=30),
    )
    assert [v for _, v, _ in _stored(session, sid)] == [1.0, 20.0, 4.0]


def test_replace_observations_written_range_covers_what_it_deleted(session):
    sid = repo.ensure_station(session, "01646500", "USGS")
    ids = {"01646500": sid}
    start, step = datetime(2026, 10, 1, tzinfo=UTC), timedelta(minutes=15)

    def replace(frame, first, last):
        return repo.replace_observations(
            session, frame, ids, station_number="01646500", data_type="realtime_15min", start=first, end=last,
        )

    # nothing stored in the range: no deletion, the range is the rows written
    first = replace(_frame("01646500", start, [1.0, 2.0, 3.0, 4.0]), start - step, start + 5 * step)
    assert (first.rows_written, first.first_written, first.last_written) == (4, start, start + 3 * step)
    # deleted rows, some rewritten, one (00:30) dropped by the source: the whole replaced range
    rewritten = _frame("01646500", start + step, [2.0])
    result = replace(rewritten, start + step, start + 2 * step)
    assert (result.rows_written, result.first_written, result.last_written) == (1, start + step, start + 2 * step)
    # deleted, nothing written at all (the service had no data): still the replaced range
    from streamflow.canonical import empty_observations

    emptied = replace(empty_observations(), start + 3 * step, start + 10 * step)
    assert (emptied.rows_written, emptied.first_written, emptied.last_written) == (0, start + 3 * step, start + 10 * step)
    # a range with nothing to delete and nothing written: no range
    nothing = replace(empty_observations(), start + 20 * step, start + 30 * step)
    assert (nothing.rows_written, nothing.first_written, nothing.last_written) == (0, None, None)
    assert [v for _, v, _ in _stored(session, sid)] == [1.0, 2.0]


def test_utc_round_trip_and_naive_refused(session):
    sid = repo.ensure_station(session, "01646500", "USGS")
    eastern = timezone(timedelta(hours=-5))
    when = datetime(2026, 3, 8, 1, 30, tzinfo=eastern)  # 06:30 UTC
    repo.upsert_observations(session, _frame("01646500", when, [7.0]), {"01646500": sid})
    session.flush()
    stored = session.execute(select(DischargeObservation.observed_at)).scalar_one()
    assert stored == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)
    session.add(DischargeObservation(station_id=sid, observed_at=datetime(2026, 1, 1), discharge=1, unit="cfs", type="x"))
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_progress_never_moves_backwards_in_append(session):
    config = repo.create_configuration(
        session, name="p", data_type="daily_mean", data_strategy="append",
        pull_start_date=datetime(2020, 1, 1, tzinfo=UTC), schedule_type="daily",
        stations=[{"station_number": "01646500"}],
    )
    assert repo.get_progress(session, config.id, "01646500") is None
    t1 = datetime(2026, 10, 1, tzinfo=UTC)
    assert repo.advance_progress(session, config.id, "01646500", t1) == t1
    assert repo.advance_progress(session, config.id, "01646500", t1 - timedelta(days=3)) == t1
    t2 = t1 + timedelta(days=1)
    assert repo.advance_progress(session, config.id, "01646500", t2) == t2
    assert repo.get_progress(session, config.id, "01646500") == t2
    # Overwrite runs may set it back to what is really stored.
    assert repo.advance_progress(session, config.id, "01646500", t1, allow_backwards=True) == t1
    assert repo.get_progress_map(session, config.id) == {"01646500": t1}
    with pytest.raises(ValueError, match="naive"):
        repo.advance_progress(session, config.id, "01646500", datetime(2026, 1, 1))


def test_forecast_run_stored_once(session):
    sid = repo.ensure_station(session, "01646500", "USGS")
    issued = datetime(2026, 11, 20, 12, tzinfo=UTC)
    run = ForecastRunData(
        station_number="01646500", source="NOAA_RFC", data_type="rfc_forecast", run_date=issued, unit="cfs",
        values=((issued + timedelta(hours=6), 12000.0), (issued + timedelta(hours=12), 12500.0)),
    )
    assert repo.insert_forecast_run(session, sid, run) is True
    assert repo.insert_forecast_run(session, sid, run) is False
    stored = session.execute(select(ForecastRun)).scalars().all()
    assert len(stored) == 1
    assert stored[0].unit == "cfs"
    assert stored[0].data == [
        {"valid_time": "2026-11-20T18:00:00Z", "value": 12000.0},
        {"valid_time": "2026-11-21T00:00:00Z", "value": 12500.0},
    ]
    assert repo.latest_forecast_run(session, sid, "NOAA_RFC") == issued


def test_configurations_load_in_one_query_in_stable_order(session, engine):
    from sqlalchemy import event

    for i, stations in enumerate([["01646500", "02458502"], [], ["08MF005"]]):
        repo.create_configuration(
            session, name=f"c{i}", data_type="daily_mean", data_strategy="append",
            pull_start_date=datetime(2020, 1, 1, tzinfo=UTC), schedule_type="daily",
            stations=[{"station_number": s} for s in stations],
        )
    session.commit()
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    rows = repo.load_configuration_rows(session)
    assert len(statements) == 1
    assert [r["name"] for r in rows] == ["c0", "c1", "c2"]
    assert [s["station_number"] for s in rows[0]["stations"]] == ["01646500", "02458502"]
    assert rows[1]["stations"] == []
    assert rows[0]["pull_start_date"] == datetime(2020, 1, 1, tzinfo=UTC)
    assert rows[0]["is_enabled"] is True

    assert repo.set_configuration_enabled(session, rows[2]["id"], False)
    assert repo.get_configuration(session, rows[2]["id"]).is_enabled is False
    assert repo.set_configuration_enabled(session, 999999, False) is False
    assert [c.name for c in repo.list_configurations(session)] == ["c0", "c1", "c2"]


def test_pull_log_open_reuse_and_close(session):
    config = repo.create_configuration(
        session, name="log", data_type="daily_mean", data_strategy="append",
        pull_start_date=datetime(2020, 1, 1, tzinfo=UTC), schedule_type="daily", stations=[{"station_number": "01646500"}],
    )
    now = datetime(2026, 11, 22, tzinfo=UTC)
    log_id = repo.open_pull_log(session, config_id=config.id, dag_id="d", dag_run_id="r1", stations_total=1, start_time=now)
    assert repo.open_pull_log(session, config_id=config.id, dag_id="d", dag_run_id="r1", stations_total=1, start_time=now) == log_id
    repo.close_pull_log(
        session, log_id, status="failed", records_processed=10, stations_failed=1,
        details={"01646500": {"rows_written": 10, "error": "boom"}}, error_message="station 01646500: boom", end_time=now,
    )
    repo.update_run_times(session, config.id, last_run_at=now, next_run_at=now + timedelta(days=1))
    session.flush()
    (entry,) = repo.get_pull_logs(session, config.id)
    assert (entry.status, entry.records_processed, entry.stations_failed) == ("failed", 10, 1)
    assert entry.details == {"01646500": {"rows_written": 10, "error": "boom"}}
    session.refresh(config)
    assert config.next_run_at == now + timedelta(days=1)


def test_get_master_stations_by_number(session):
    session.add_all(
        [
            MasterStation(station_number="01646500", station_name="POTOMAC", agency="USGS", state_code="MD"),
            MasterStation(station_number="08MF005", station_name="FRASER RIVER AT HOPE", agency="EC", state_code="BC"),
        ]
    )
    session.flush()
    found = repo.get_master_stations(session, ["08MF005", "01646500", "99999999", "08MF005"])
    assert sorted(found) == ["01646500", "08MF005"]
    assert found["08MF005"].state_code == "BC"
    assert repo.get_master_stations(session, []) == {}
