"""Verification through the repository on SQLite and PostgreSQL: rows checked by hand, revisions,
idempotence, the summary by lead time."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import select

from streamflow.canonical import ForecastRunData
from streamflow.db import repository as repo
from streamflow.db import verification as ver
from streamflow.db.engine import session_scope
from streamflow.db.models import ForecastRun, ForecastVerification

UTC = timezone.utc
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
H = timedelta(hours=1)
GAP = 9  # no observation at T0 + 9 h


def _obs_frame(station: str, hours, values, unit: str, data_type: str = "realtime_15min") -> pd.DataFrame:
    return pd.DataFrame({
        "station_number": station, "observed_at": [T0 + h * H for h in hours], "discharge": values,
        "unit": unit, "quality_code": "P", "data_type": data_type,
    })


def _store(engine, station: str, agency: str, frame: pd.DataFrame) -> int:
    with session_scope(engine) as s:
        station_id = repo.ensure_station(s, station, agency)
        repo.upsert_observations(s, frame, {station: station_id})
    return station_id


def _forecast(engine, station_id: int, station: str, source: str, hours, values, unit="cfs") -> int:
    run = ForecastRunData(station, source, "nwm_short_range", T0, unit, tuple((T0 + h * H, v) for h, v in zip(hours, values)))
    with session_scope(engine) as s:
        repo.insert_forecast_run(s, station_id, run)
        return s.execute(select(ForecastRun.id).where(ForecastRun.station_id == station_id, ForecastRun.source == source)).scalar_one()


def _rows(engine, run_id) -> dict[str, ForecastVerification]:
    with session_scope(engine) as s:
        return {r.lead_bin: r for r in ver.verification_rows(s, run_id)}


@pytest.fixture
def scenario(engine):
    # USGS station, cfs: observed 100 + h at each hour from T0 − 1 h to T0 + 12 h, except T0 + 9 h
    hours = [h for h in range(-1, 13) if h != GAP]
    usgs_id = _store(engine, "01646500", "USGS", _obs_frame("01646500", hours, [100.0 + h for h in hours], "cfs"))
    # forecast: +2 for leads 1–6, −4 for leads 7–12
    errors = {h: (2.0 if h <= 6 else -4.0) for h in range(1, 13)}
    usgs_run = _forecast(engine, usgs_id, "01646500", "NOAA_NWM_SHORT_RANGE", range(1, 13),
                         [100.0 + h + errors[h] for h in range(1, 13)])
    # EC station observed in cms, forecast in cfs: 10 cms at every hour, forecast 360 cfs
    ec_id = _store(engine, "08MF005", "EC", _obs_frame("08MF005", range(7), [10.0] * 7, "cms"))
    ec_run = _forecast(engine, ec_id, "08MF005", "NOAA_RFC", range(1, 7), [360.0] * 6)
    return {"usgs_run": usgs_run, "ec_run": ec_run}


def test_rows_checked_by_hand(engine, scenario):
    with session_scope(engine) as s:
        result = ver.verify_range(s, None, T0 - 2 * H, T0 + 12 * H)
    assert result.runs_considered == 2 and result.runs_changed == 2 and not result.failed
    rows = _rows(engine, scenario["usgs_run"])
    assert list(rows) == ["0-6h", "6-12h", "all"]
    first, second, whole = rows["0-6h"], rows["6-12h"], rows["all"]
    assert (first.n_pairs, first.pairs_dropped, first.rmse, first.mean_error, first.mae) == (6, 0, 2.0, 2.0, 2.0)
    # persistence = the observation at the issue time (100); errors 1 … 6
    assert first.persistence_rmse == pytest.approx(math.sqrt(91 / 6))
    assert first.skill == pytest.approx(1 - 2 / math.sqrt(91 / 6))
    assert (second.n_pairs, second.pairs_dropped, second.rmse, second.mean_error) == (5, 1, 4.0, -4.0)
    assert (whole.n_pairs, whole.pairs_dropped) == (11, 1)
    assert whole.rmse == pytest.approx(math.sqrt((6 * 4 + 5 * 16) / 11))
    assert whole.mean_error == pytest.approx((6 * 2 - 5 * 4) / 11)
    assert {r.status for r in rows.values()} == {"complete"}
    assert {r.observation_type for r in rows.values()} == {"realtime_15min"}
    with session_scope(engine) as s:
        assert s.get(ForecastRun, scenario["usgs_run"]).rmse == pytest.approx(whole.rmse)

    # unit mismatch: 10 cms = 353.1466672 cfs; the forecast says 360 cfs
    ec = _rows(engine, scenario["ec_run"])["all"]
    assert ec.unit == "cfs" and ec.n_pairs == 6
    assert ec.mean_error == pytest.approx(360 - 10 / 0.028316846592, rel=1e-12)
    assert ec.nse is None  # constant observations
    assert ec.skill is None  # persistence (10 cms) is perfect: skill undefined


def test_partial_until_observations_cover_the_horizon(engine, scenario):
    with session_scope(engine) as s:
        ver.verify_range(s, ["08MF005"], T0, T0 + 6 * H)
        # a new run reaching beyond the last observation (T0 + 6 h)
        station_id = s.execute(select(ForecastRun.station_id).where(ForecastRun.id == scenario["ec_run"])).scalar_one()
    late = ForecastRunData("08MF005", "NOAA_RFC", "rfc_forecast", T0 + 3 * H, "cfs",
                           tuple((T0 + (3 + h) * H, 350.0) for h in range(1, 7)))
    with session_scope(engine) as s:
        repo.insert_forecast_run(s, station_id, late)
        result = ver.verify_range(s, ["08MF005"], T0, T0 + 6 * H)
    assert result.partial == 1 and result.complete == 1
    with session_scope(engine) as s:
        run_id = s.execute(select(ForecastRun.id).where(ForecastRun.run_date == T0 + 3 * H)).scalar_one()
    whole = _rows(engine, run_id)["all"]
    assert whole.status == "partial" and whole.n_pairs == 3 and whole.pairs_dropped == 3
    # the rest of the observations arrive: complete
    _store(engine, "08MF005", "EC", _obs_frame("08MF005", range(7, 10), [10.0] * 3, "cms"))
    with session_scope(engine) as s:
        ver.verify_range(s, ["08MF005"], T0 + 7 * H, T0 + 9 * H)
    whole = _rows(engine, run_id)["all"]
    assert whole.status == "complete" and whole.n_pairs == 6 and whole.pairs_dropped == 0


def test_a_partial_run_ending_in_a_gap_completes_when_later_observations_arrive(engine):
    """Verified from what a write reports: rows that resume after a gap lie past the run's last
    valid time, yet they complete it (the station's latest observation passed its horizon)."""
    station = "01638500"
    station_id = _store(engine, station, "USGS", _obs_frame(station, range(-1, 5), [50.0] * 6, "cfs"))
    run_id = _forecast(engine, station_id, station, "NOAA_NWM_SHORT_RANGE", range(1, 7), [51.0] * 6)
    with session_scope(engine) as s:
        assert ver.verify_range(s, [station], T0 - H, T0 + 4 * H).partial == 1
    assert _rows(engine, run_id)["all"].status == "partial"
    # the gauge is silent from T0 + 5 h to T0 + 7 h; observations resume at T0 + 8 h
    with session_scope(engine) as s:
        written = repo.upsert_observations(s, _obs_frame(station, range(8, 11), [50.0] * 3, "cfs"), {station: station_id})
    assert (written.first_written, written.last_written) == (T0 + 8 * H, T0 + 10 * H)
    # the run's footprint ends at T0 + 6 h, before that range; being partial, it is verified again
    with session_scope(engine) as s:
        assert ver.runs_touching(s, [station], written.first_written, written.last_written) == [run_id]
        result = ver.verify_range(s, [station], written.first_written, written.last_written)
    assert (result.runs_considered, result.runs_changed, result.complete) == (1, 1, 1)
    whole = _rows(engine, run_id)["all"]
    assert (whole.status, whole.n_pairs, whole.pairs_dropped) == ("complete", 4, 2)
    # complete now: later observations leave it alone
    with session_scope(engine) as s:
        assert ver.verify_range(s, [station], T0 + 8 * H, T0 + 10 * H).runs_considered == 0


def test_revision_changes_the_affected_metrics_and_nothing_else(engine, scenario):
    first_pass = datetime(2026, 6, 2, tzinfo=UTC)
    with session_scope(engine) as s:
        ver.verify_range(s, None, T0 - 2 * H, T0 + 12 * H, now=first_pass)
    before = {run: {b: _snapshot(r) for b, r in _rows(engine, run).items()} for run in scenario.values()}

    # verifying again changes nothing (same rows, same verified_at)
    with session_scope(engine) as s:
        again = ver.verify_range(s, None, T0 - 2 * H, T0 + 12 * H, now=first_pass + timedelta(days=1))
    assert again.runs_changed == 0 and again.rows_written == 0
    assert {run: {b: _snapshot(r) for b, r in _rows(engine, run).items()} for run in scenario.values()} == before

    # a provisional value at T0 + 8 h is revised from 108 to 110: the forecast (104) now misses by 6
    _store(engine, "01646500", "USGS", _obs_frame("01646500", [8], [110.0], "cfs"))
    revised_at = first_pass + timedelta(days=2)
    with session_scope(engine) as s:
        result = ver.verify_range(s, ["01646500"], T0 + 8 * H, T0 + 8 * H, now=revised_at)
    assert result.runs_considered == 1 and result.runs_changed == 1
    after = {run: {b: _snapshot(r) for b, r in _rows(engine, run).items()} for run in scenario.values()}
    assert after[scenario["ec_run"]] == before[scenario["ec_run"]]
    usgs_before, usgs_after = before[scenario["usgs_run"]], after[scenario["usgs_run"]]
    assert usgs_after["0-6h"]["rmse"] == usgs_before["0-6h"]["rmse"]
    assert usgs_after["6-12h"]["rmse"] == pytest.approx(math.sqrt((4 * 16 + 36) / 5))
    assert usgs_after["6-12h"]["mean_error"] == pytest.approx((4 * -4 - 6) / 5)
    assert usgs_after["all"]["rmse"] == pytest.approx(math.sqrt((6 * 4 + 4 * 16 + 36) / 11))
    assert usgs_after["all"]["verified_at"] == revised_at
    with session_scope(engine) as s:
        assert s.get(ForecastRun, scenario["usgs_run"]).rmse == pytest.approx(usgs_after["all"]["rmse"])


def _snapshot(row: ForecastVerification) -> dict:
    return {c.key: getattr(row, c.key) for c in ForecastVerification.__table__.columns}


def test_summary_by_lead_time(engine, scenario):
    with session_scope(engine) as s:
        ver.verify_range(s, None, T0 - 2 * H, T0 + 12 * H)
        summary = ver.verification_summary(s, "01646500", "NOAA_NWM_SHORT_RANGE", T0 - H, T0 + H)
        assert ver.verification_summary(s, "01646500", "NOAA_RFC", T0 - H, T0 + H) == []
    assert [b["lead_bin"] for b in summary] == ["0-6h", "6-12h", "all"]
    assert summary[0]["runs"] == 1 and summary[0]["n_pairs"] == 6 and summary[0]["rmse"] == pytest.approx(2.0)
    assert summary[0]["skill"] == pytest.approx(1 - 2 / math.sqrt(91 / 6))
    assert summary[-1]["rmse"] == pytest.approx(math.sqrt(104 / 11))
    assert summary[0]["persistence_rmse"] == pytest.approx(math.sqrt(91 / 6))
    assert {b["unit"] for b in summary} == {"cfs"}


def test_summary_pools_runs_exactly_and_converts_units(engine, scenario):
    """Two runs of one source pooled by pairs; the summary in cms is the summary in cfs times the exact factor."""
    with session_scope(engine) as s:
        station_id = s.execute(select(ForecastRun.station_id).where(ForecastRun.id == scenario["usgs_run"])).scalar_one()
        # a second run issued 2 h later: +6 at leads 1–4 (valid T0+3 … T0+6 h), observations 100 + h
        repo.insert_forecast_run(s, station_id, ForecastRunData(
            "01646500", "NOAA_NWM_SHORT_RANGE", "nwm_short_range", T0 + 2 * H, "cfs",
            tuple((T0 + (2 + h) * H, 100.0 + 2 + h + 6.0) for h in range(1, 5))))
    with session_scope(engine) as s:
        ver.verify_range(s, None, T0 - 2 * H, T0 + 12 * H)
        cfs = {b["lead_bin"]: b for b in ver.verification_summary(s, "01646500", "NOAA_NWM_SHORT_RANGE")}
        cms = {b["lead_bin"]: b for b in ver.verification_summary(s, "01646500", "NOAA_NWM_SHORT_RANGE", unit="cms")}
        only_first = ver.verification_summary(s, "01646500", "NOAA_NWM_SHORT_RANGE", None, T0)
    first = cfs["0-6h"]
    # 6 pairs with error 2 (first run) + 4 pairs with error 6 (second run)
    assert (first["runs"], first["runs_complete"], first["n_pairs"]) == (2, 2, 10)
    assert first["rmse"] == pytest.approx(math.sqrt((6 * 4 + 4 * 36) / 10))
    assert first["mean_error"] == pytest.approx((6 * 2 + 4 * 6) / 10)
    # persistence: the first run's errors 1 … 6 (issued at T0, observed 100); the second run's 1 … 4
    # (issued at T0 + 2 h, observed 102)
    assert first["persistence_rmse"] == pytest.approx(math.sqrt((91 + 30) / 10))
    assert first["skill"] == pytest.approx(1 - first["rmse"] / first["persistence_rmse"])
    assert cms["0-6h"]["unit"] == "cms"
    for key in ("rmse", "mean_error", "mae", "persistence_rmse"):
        assert cms["0-6h"][key] == pytest.approx(first[key] * 0.028316846592, rel=1e-12)
    for key in ("skill", "nse_mean", "kge_mean", "n_pairs", "runs"):
        assert cms["0-6h"][key] == first[key]
    assert [b["runs"] for b in only_first] == [1, 1, 1]  # the issue-time interval's end is inclusive


def test_a_run_in_an_unknown_unit_fails_alone(engine, scenario):
    with session_scope(engine) as s:
        station_id = s.execute(select(ForecastRun.station_id).where(ForecastRun.id == scenario["ec_run"])).scalar_one()
        repo.insert_forecast_run(s, station_id, ForecastRunData(
            "08MF005", "NOAA_NWM_SHORT_RANGE", "nwm_short_range", T0, "kcfs", ((T0 + H, 0.36),)))
    with session_scope(engine) as s:
        result = ver.verify_range(s, ["08MF005"], T0, T0 + 6 * H)
    assert result.runs_changed == 1 and len(result.failed) == 1
    assert "station 08MF005" in result.failed[0] and "'kcfs'" in result.failed[0]
    with session_scope(engine) as s:
        assert s.execute(select(ForecastVerification.forecast_run_id).distinct()).scalars().all() == [scenario["ec_run"]]


def test_verified_run_counts_per_station_and_source(engine, scenario):
    stations = ["01646500", "08MF005", "99999999"]
    with session_scope(engine) as s:
        assert ver.verified_run_counts(s, stations, "NOAA_NWM_SHORT_RANGE") == {}  # nothing verified yet
        ver.verify_range(s, None, T0 - 2 * H, T0 + 12 * H)
    with session_scope(engine) as s:
        assert ver.verified_run_counts(s, stations, "NOAA_NWM_SHORT_RANGE") == {"01646500": 1}
        assert ver.verified_run_counts(s, stations, "NOAA_RFC") == {"08MF005": 1}
        assert ver.verified_run_counts(s, [], "NOAA_RFC") == {}
