"""No NaN or ±inf reaches the database from any source: such values are dropped and counted.

Parsers of every source are fed ``Infinity``, ``-Infinity``, ``NaN`` and ``1e400``; negative values
stay (tidal gauges report them). Two ``dag.test()`` runs (USGS daily means, a NOAA RFC forecast whose
flows overflow) prove nothing non-finite is stored and the count reaches ``data_pull_logs``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import select

from streamflow.canonical import ForecastRunData, canonical_observations, values_dropped
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog, DischargeObservation, ForecastRun, Station, StationMapping
from streamflow.factory import build_dags
from streamflow.parsers.eccc import parse_datamart_csv, parse_wateroffice_csv
from streamflow.parsers.noaa import parse_nwm_run, parse_rfc_forecast
from streamflow.parsers.usgs import parse_observations
from streamflow.testing.fakes.usgs import FakeUsgs
from streamflow.vocabulary import DataType

UTC = timezone.utc
URL = "https://example.invalid/file.csv"


def _usgs_raw(values: list[str | None]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "monitoring_location_id": ["USGS-01646500"] * n,
            "time": [f"2026-10-{day:02d}" for day in range(1, n + 1)],
            "value": values,
            "unit_of_measure": ["ft^3/s"] * n,
            "approval_status": ["Approved"] * n,
            "qualifier": [None] * n,
        }
    )


def test_usgs_parser_drops_and_counts_non_finite_values_and_keeps_negatives():
    raw = _usgs_raw(["1.5", "Infinity", "-Infinity", "1e400", "NaN", "-3.25", None, "-1e400"])
    frame, notes = parse_observations(raw, DataType.DAILY_MEAN)
    assert frame["discharge"].tolist() == [1.5, -3.25]
    assert values_dropped(frame) == 5  # Infinity, -Infinity, 1e400, NaN, -1e400; the null is no value
    assert any("not finite" in note for note in notes)


def test_usgs_unit_conversion_overflow_is_dropped():
    raw = _usgs_raw(["1e308", "2"])
    raw["unit_of_measure"] = "m^3/s"  # × 35.3 overflows
    frame, _ = parse_observations(raw, DataType.DAILY_MEAN)
    assert len(frame) == 1 and math.isfinite(frame["discharge"].iat[0])
    assert values_dropped(frame) == 1


WO_DAILY = (
    "\ufeff ID,Date,Parameter/Paramètre,Value/Valeur,Symbol/Symbole\n"
    "08MF005,2023-01-01,discharge/débit,721,\n"
    "08MF005,2023-01-02,discharge/débit,Infinity,\n"
    "08MF005,2023-01-03,discharge/débit,NaN,\n"
    "08MF005,2023-01-04,discharge/débit,1e400,\n"
    "08MF005,2023-01-05,discharge/débit,-2.5,E\n"
    "08MF005,2023-01-06,discharge/débit,,\n"
)


def test_eccc_water_office_drops_and_counts_non_finite_values():
    frame = parse_wateroffice_csv(WO_DAILY, "daily_data", station_number="08MF005", url=URL)
    assert frame["discharge"].tolist() == [721.0, -2.5]
    assert values_dropped(frame) == 3


def test_eccc_datamart_drops_and_counts_non_finite_values():
    text = (
        " ID,Date,Water Level / Niveau d'eau (m),Grade,Symbol / Symbole,QA/QC,"
        "Discharge / Débit (cms),Grade,Symbol / Symbole,QA/QC\r\n"
        "10AB001,2023-11-06T12:00:00-08:00,1.5,,,1,-Infinity,,,1\r\n"
        "10AB001,2023-11-06T12:05:00-08:00,1.5,,,1,134,,,1\r\n"
        "10AB001,2023-11-06T12:10:00-08:00,1.5,,,1,nan,,,1\r\n"
    )
    frame = parse_datamart_csv(text, station_number="10AB001", url=URL)
    assert frame["discharge"].tolist() == [134.0]
    assert values_dropped(frame) == 2


# NWPS JSON with the literals Python's json reads as non-finite floats, and a kcfs value that
# overflows a float once converted to cfs.
RFC_DOC = {
    "issuedTime": "2026-11-20T13:30:00Z",
    "secondaryUnits": "kcfs",
    "data": [
        {"validTime": "2026-11-20T12:00:00Z", "secondary": 4.17},
        {"validTime": "2026-11-20T13:00:00Z", "secondary": float("inf")},  # 1e400 / Infinity in JSON
        {"validTime": "2026-11-20T14:00:00Z", "secondary": float("nan")},
        {"validTime": "2026-11-20T15:00:00Z", "secondary": "1e400"},
        {"validTime": "2026-11-20T16:00:00Z", "secondary": 1.7e308},  # × 1000 overflows
        {"validTime": "2026-11-20T17:00:00Z", "secondary": -0.5},
        {"validTime": "2026-11-20T18:00:00Z", "secondary": -999},  # NWPS "no value": missing, not counted
    ],
}


def test_noaa_rfc_parser_drops_and_counts_non_finite_and_overflowing_flows():
    run, points, missing, non_finite, units = parse_rfc_forecast(RFC_DOC, lid="FIHM1", station="01013500")
    assert [v for _, v in run.values] == [4170.0, -500.0]
    assert (points, missing, non_finite, units) == (7, 1, 4, "kcfs")
    assert run.values_dropped == 4


def test_noaa_nwm_parser_counts_non_finite_even_when_nothing_is_left():
    block = {"referenceTime": "2026-11-20T12:00:00Z", "units": "ft³/s",
             "data": [{"validTime": "2026-11-20T13:00:00Z", "flow": float("inf")}]}
    run, non_finite = parse_nwm_run(block, name="series", data_type=DataType.NWM_SHORT_RANGE,
                                    station="01013500", reach="724696", key="shortRange")
    assert run is None and non_finite == 1


def test_forecast_run_never_holds_non_finite_values():
    when = datetime(2026, 11, 20, 12, tzinfo=UTC)
    run = ForecastRunData("01013500", "NOAA_RFC", "rfc_forecast", when, "cfs",
                          ((when, 1.0), (when + timedelta(hours=1), float("inf")), (when + timedelta(hours=2), math.nan)))
    assert run.values == ((when, 1.0),)
    assert run.values_dropped == 2
    assert "Infinity" not in str(run.to_json()) and "nan" not in str(run.to_json())


def test_canonical_frame_drops_inf_counts_it_and_keeps_missing_uncounted():
    frame = pd.DataFrame(
        {
            "station_number": ["1"] * 4,
            "observed_at": pd.date_range("2026-01-01", periods=4, freq="D", tz="UTC"),
            "discharge": [1.0, float("inf"), None, -2.0],
            "unit": "cfs",
            "quality_code": "A",
            "data_type": "daily_mean",
        }
    )
    out = canonical_observations(frame)
    assert out["discharge"].tolist() == [1.0, -2.0]
    assert values_dropped(out) == 1
    # A frame that already looks canonical but holds inf is not waved through.
    sneaky = out.copy()
    sneaky.loc[0, "discharge"] = float("-inf")
    assert canonical_observations(sneaky)["discharge"].tolist() == [-2.0]


# ---------------------------------------------------------------------------- end to end


def _stored_values(engine, station: str) -> list[float]:
    with session_scope(engine) as s:
        return list(
            s.execute(
                select(DischargeObservation.discharge)
                .join(Station, Station.id == DischargeObservation.station_id)
                .where(Station.station_number == station)
            ).scalars()
        )


def test_usgs_dag_run_stores_nothing_non_finite(airflow_db, engine, replay):
    until = datetime.now(UTC) - timedelta(days=3)
    fake = FakeUsgs(replay, until=until)
    start = (until - timedelta(days=9)).replace(hour=0, minute=0, second=0, microsecond=0)
    days = fake.daily_keys(start.date(), until.date())
    fake.revise("01646500", days[1], float("inf"))
    fake.revise("01646500", days[2], float("-inf"))
    fake.revise("01646500", days[3], float("nan"))
    fake.revise("01646500", days[4], -12.5)  # a tidal gauge's negative flow stays
    with session_scope(engine) as s:
        config = repo.create_configuration(
            s, name="non-finite", data_type="daily_mean", data_strategy="append", pull_start_date=start,
            schedule_type="daily", stations=[{"station_number": "01646500"}],
        )
        config_id = config.id
    with session_scope(engine) as s:
        dag = build_dags(repo.load_configuration_rows(s))[f"streamflow_config_{config_id}"]
    run = dag.test()
    assert run.state == "success"
    values = _stored_values(engine, "01646500")
    assert len(values) == len(days) - 3
    assert all(math.isfinite(v) for v in values) and -12.5 in values
    with session_scope(engine) as s:
        log = s.execute(select(DataPullLog).where(DataPullLog.config_id == config_id)).scalars().one()
    assert log.status == "success"
    assert log.details["01646500"]["values_dropped"] == 3


def test_noaa_forecast_with_overflowing_flows_is_stored_finite(airflow_db, engine, replay):
    body = (
        b'{"forecast": {"issuedTime": "2026-11-20T13:30:00Z", "secondaryUnits": "kcfs", "data": ['
        b'{"validTime": "2026-11-20T12:00:00Z", "secondary": 4.17},'
        b'{"validTime": "2026-11-20T13:00:00Z", "secondary": 1e400},'
        b'{"validTime": "2026-11-20T14:00:00Z", "secondary": Infinity},'
        b'{"validTime": "2026-11-20T15:00:00Z", "secondary": NaN},'
        b'{"validTime": "2026-11-20T16:00:00Z", "secondary": 1.7e308},'
        b'{"validTime": "2026-11-20T17:00:00Z", "secondary": -0.25}]}}'
    )
    replay.add("/nwps/v1/gauges/FIHM1/stageflow/forecast", body, headers={"Content-Type": "application/json"})
    with session_scope(engine) as s:
        s.add(StationMapping(source_agency="USGS", source_id="01013500", target_agency="NOAA-HADS", target_id="FIHM1"))
        config = repo.create_configuration(
            s, name="rfc inf", data_type="rfc_forecast", data_strategy="append",
            pull_start_date=datetime(2026, 1, 1, tzinfo=UTC), schedule_type="hourly",
            stations=[{"station_number": "01013500"}],
        )
        config_id = config.id
    with session_scope(engine) as s:
        dag = build_dags(repo.load_configuration_rows(s))[f"streamflow_config_{config_id}"]
    run = dag.test()
    assert run.state == "success"
    with session_scope(engine) as s:
        stored = s.execute(select(ForecastRun)).scalars().one()
        log = s.execute(select(DataPullLog).where(DataPullLog.config_id == config_id)).scalars().one()
    assert [point["value"] for point in stored.data] == [4170.0, -250.0]
    assert log.status == "success"
    assert log.details["01013500"]["values_dropped"] == 4


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "1e400", "NaN"])
def test_each_non_finite_spelling_is_dropped_by_usgs(text):
    frame, _ = parse_observations(_usgs_raw([text, "7"]), DataType.DAILY_MEAN)
    assert frame["discharge"].tolist() == [7.0] and values_dropped(frame) == 1
