"""NoaaNwpsHook against the replay server (real HTTP on 127.0.0.1, hand-made NWPS payloads).

Expected values are worked out by hand from tests/fixtures/noaa/ (see its README).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest
from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    PermanentSourceError,
    StationNotFoundError,
    TransientSourceError,
)
from streamflow.canonical import ForecastRunData
from streamflow.hooks.noaa import NoaaNwpsHook
from streamflow.vocabulary import DataType

from streamflow.testing.replay import FIXTURES, Response, fixture_bytes

STATION = "01013500"  # our USGS station; NWPS knows it as gauge FIHM1 on NWM reach 724696
LID = "FIHM1"
REACH = "724696"
JSON = {"Content-Type": "application/json"}

GAUGE_PATH = f"/nwps/v1/gauges/{LID}"
FORECAST_PATH = f"/nwps/v1/gauges/{LID}/stageflow/forecast"
REACH_PATH = f"/nwps/v1/reaches/{REACH}/streamflow"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def load(name: str) -> dict:
    return json.loads((FIXTURES / "noaa" / name).read_text(encoding="utf-8"))


def raw(name: str) -> Response:
    """The fixture's bytes exactly as written (NWPS-style pretty printing, UTF-8 ``ft³/s``)."""
    return Response(200, fixture_bytes(f"noaa/{name}"), headers=JSON)


def fihm1_forecast_block() -> dict:
    return copy.deepcopy(load("stageflow_FIHM1.json")["forecast"])


# --------------------------------------------------------------------------- gauge metadata


def test_get_gauge_returns_identity_location_and_rfc(replay):
    replay.add(GAUGE_PATH, raw("gauge_FIHM1.json"))

    gauge = NoaaNwpsHook().get_gauge(LID, station_number=STATION)

    assert gauge == {
        "lid": "FIHM1",
        "usgs_id": "01013500",
        "reach_id": "724696",
        "name": "Fish River at Fort Kent",
        "time_zone": "EST5EDT",
        "latitude": 47.2375,
        "longitude": -68.58277778,
        "rfc": "NERFC",
    }
    assert [r.path for r in replay.requests] == [GAUGE_PATH]


def test_get_gauge_turns_empty_ids_into_none(replay):
    replay.add("/nwps/v1/gauges/STTQ2", raw("gauge_STTQ2.json"))

    gauge = NoaaNwpsHook().get_gauge("STTQ2")

    assert gauge["lid"] == "STTQ2"
    assert gauge["usgs_id"] is None  # "" in the payload: a Canadian point has no USGS id
    assert gauge["reach_id"] is None
    assert gauge["rfc"] == "APRFC"
    assert gauge["time_zone"] == "AST9ADT"
    assert (gauge["latitude"], gauge["longitude"]) == (57.90083333, -131.1544444)


def test_get_gauge_treats_numeric_and_time_sentinels_as_missing(replay):
    doc = load("gauge_FIHM1.json")
    doc.update(
        latitude=-999, longitude=-9999, timeZone="", reachId="0001-01-01T00:00:00Z", rfc={"abbreviation": ""}
    )
    replay.add(GAUGE_PATH, doc)

    gauge = NoaaNwpsHook().get_gauge(LID, station_number=STATION)

    assert gauge["latitude"] is None
    assert gauge["longitude"] is None
    assert gauge["time_zone"] is None
    assert gauge["reach_id"] is None
    assert gauge["rfc"] is None
    assert gauge["usgs_id"] == "01013500"


def test_get_gauge_without_station_names_the_lid_in_errors(replay):
    replay.add("/nwps/v1/gauges/NOPE1", status=404, response=load("error_404_unknown_id.json"))

    with pytest.raises(StationNotFoundError) as caught:
        NoaaNwpsHook().get_gauge("NOPE1")

    assert str(caught.value).startswith("noaa: station NOPE1: NWPS does not know gauge NOPE1")


# --------------------------------------------------------------------------- RFC forecast


def test_rfc_forecast_converts_kcfs_to_cfs_sorts_and_drops_missing(replay):
    replay.add(FORECAST_PATH, Response(200, json.dumps(fihm1_forecast_block()), headers=JSON))

    run = NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)

    assert run == ForecastRunData(
        station_number=STATION,
        source="NOAA_RFC",
        data_type="rfc_forecast",
        run_date=utc(2026, 11, 20, 13, 42),
        unit="cfs",
        values=(
            # 8 points in the payload: 12:00Z came third (sorted here); 2 had secondary -999
            (utc(2026, 11, 20, 12), 4210.0),
            (utc(2026, 11, 20, 18), 4430.0),
            (utc(2026, 11, 21, 0), 5020.0),
            (utc(2026, 11, 21, 12), 5180.0),
            (utc(2026, 11, 21, 18), 4670.0),
            (utc(2026, 11, 22, 6), 3950.0),
        ),
        member=None,
    )
    assert all(t.utcoffset().total_seconds() == 0 for t, _ in run.values)
    assert [r.path for r in replay.requests] == [FORECAST_PATH]


def test_rfc_forecast_keeps_values_already_in_cfs(replay):
    block = fihm1_forecast_block()
    block["secondaryUnits"] = "cfs"
    block["data"] = [
        {
            "validTime": "2026-11-20T12:00:00Z",
            "generatedTime": "2026-11-20T13:42:00Z",
            "primary": 7.9,
            "secondary": 4215.5,
        }
    ]
    replay.add(FORECAST_PATH, block)

    run = NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)

    assert run.values == ((utc(2026, 11, 20, 12), 4215.5),)
    assert run.unit == "cfs"


def test_rfc_forecast_reads_the_forecast_block_of_a_whole_stageflow_document(replay):
    doc = load("stageflow_FIHM1.json")
    doc["observed"]["secondaryUnits"] = "cfs"  # must not leak into the forecast block's unit
    replay.add(FORECAST_PATH, doc)

    run = NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)

    assert run.run_date == utc(2026, 11, 20, 13, 42)
    assert run.values[0] == (utc(2026, 11, 20, 12), 4210.0)
    assert len(run.values) == 6


def test_rfc_forecast_empty_forecast_returns_none(replay):
    replay.add("/nwps/v1/gauges/STTQ2/stageflow/forecast", load("stageflow_STTQ2.json")["forecast"])

    assert NoaaNwpsHook().get_rfc_forecast("STTQ2", station_number="08CE001") is None


def test_rfc_forecast_with_only_missing_flows_returns_none(replay):
    block = fihm1_forecast_block()
    block["secondaryUnits"] = ""  # a stage-only forecast point
    for point in block["data"]:
        point["secondary"] = -999
    replay.add(FORECAST_PATH, block)

    assert NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION) is None


@pytest.mark.parametrize("unit", ["kaf", "m³/s", ""])
def test_rfc_forecast_unknown_unit_is_a_payload_error(replay, unit):
    block = fihm1_forecast_block()
    block["secondaryUnits"] = unit
    replay.add(FORECAST_PATH, block)

    with pytest.raises(PayloadError) as caught:
        NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)

    message = str(caught.value)
    assert message.startswith(f"noaa: station {STATION}: gauge {LID} forecast: flow unit ")
    assert (repr(unit) if unit else "missing") in message
    assert caught.value.retryable is False


def test_rfc_forecast_without_issued_time_is_a_payload_error(replay):
    block = fihm1_forecast_block()
    block["issuedTime"] = "0001-01-01T00:00:00Z"
    replay.add(FORECAST_PATH, block)

    with pytest.raises(PayloadError, match=r"noaa: station 01013500: .*no issuedTime"):
        NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)


def test_rfc_forecast_bad_valid_time_is_a_payload_error(replay):
    block = fihm1_forecast_block()
    block["data"][0]["validTime"] = "2026-11-20 18:00"  # no offset: refuse rather than guess
    replay.add(FORECAST_PATH, block)

    with pytest.raises(PayloadError, match="has no UTC offset"):
        NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)


def test_malformed_json_is_a_payload_error_naming_source_and_station(replay):
    replay.add(FORECAST_PATH, Response(200, '{"pedts": "HGIFF", "data": [{"validTime": }', headers=JSON))

    with pytest.raises(PayloadError) as caught:
        NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)

    assert str(caught.value).startswith(f"noaa: station {STATION}: response is not valid JSON")
    assert caught.value.retryable is False


def test_non_numeric_flow_is_a_payload_error(replay):
    block = fihm1_forecast_block()
    block["data"][0]["secondary"] = "high"
    replay.add(FORECAST_PATH, block)

    with pytest.raises(PayloadError, match=r"secondary 'high' is not a number"):
        NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)


# --------------------------------------------------------------------------- HTTP failures


def test_unknown_lid_404_is_station_not_found(replay):
    replay.add(
        "/nwps/v1/gauges/XXXX1/stageflow/forecast", status=404, response=load("error_404_unknown_id.json")
    )

    with pytest.raises(StationNotFoundError) as caught:
        NoaaNwpsHook().get_rfc_forecast("XXXX1", station_number=STATION)

    message = str(caught.value)
    assert message.startswith(f"noaa: station {STATION}: NWPS does not know gauge XXXX1")
    assert "could not find unknown ID" in message
    assert caught.value.status_code == 404
    assert caught.value.retryable is False


def test_unknown_reach_404_is_station_not_found(replay):
    replay.add(
        "/nwps/v1/reaches/999999999/streamflow", status=404, response=load("error_404_unknown_id.json")
    )

    with pytest.raises(
        StationNotFoundError, match=rf"^noaa: station {STATION}: NWPS does not know NWM reach 999999999"
    ):
        NoaaNwpsHook().get_nwm_forecast("999999999", DataType.NWM_SHORT_RANGE, station_number=STATION)


def test_429_with_retry_after_is_retryable(replay):
    replay.add(FORECAST_PATH, Response(429, {"message": "slow down"}, headers={"Retry-After": "30"}))

    with pytest.raises(TransientSourceError) as caught:
        NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)

    assert caught.value.retryable is True
    assert caught.value.retry_after == 30.0
    assert str(caught.value).startswith(f"noaa: station {STATION}: too many requests (HTTP 429")


def test_503_is_retryable(replay):
    replay.add(REACH_PATH, Response(503, "upstream unavailable"))

    with pytest.raises(TransientSourceError) as caught:
        NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_MEDIUM_RANGE, station_number=STATION)

    assert caught.value.retryable is True
    assert str(caught.value).startswith(f"noaa: station {STATION}: service unavailable (HTTP 503")


def test_truncated_body_is_retryable(replay):
    replay.add(
        FORECAST_PATH, Response(200, fixture_bytes("noaa/stageflow_FIHM1.json"), headers=JSON, truncate=True)
    )

    with pytest.raises(TransientSourceError, match=rf"^noaa: station {STATION}: response body cut off"):
        NoaaNwpsHook().get_rfc_forecast(LID, station_number=STATION)


def test_timeout_is_retryable(replay):
    replay.add(FORECAST_PATH, Response(200, {"data": []}, delay=1.0))

    with pytest.raises(TransientSourceError, match=rf"^noaa: station {STATION}: timed out"):
        NoaaNwpsHook(timeout=(2.0, 0.2)).get_rfc_forecast(LID, station_number=STATION)


def test_400_is_permanent(replay):
    replay.add(REACH_PATH, Response(400, {"code": 3, "message": "invalid series", "details": []}))

    with pytest.raises(PermanentSourceError) as caught:
        NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_LONG_RANGE, station_number=STATION)

    assert caught.value.retryable is False
    assert not isinstance(caught.value, StationNotFoundError)
    assert "invalid series" in str(caught.value)


# --------------------------------------------------------------------------- NWM forecasts


def test_nwm_short_range_returns_the_deterministic_run_in_cfs(replay):
    replay.add(REACH_PATH, raw("reach_724696_streamflow_short_range.json"), query={"series": "short_range"})

    runs = NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_SHORT_RANGE, station_number=STATION)

    assert len(runs) == 1
    run = runs[0]
    assert (run.station_number, run.source, run.data_type, run.unit, run.member) == (
        STATION,
        "NOAA_NWM_SHORT_RANGE",
        "nwm_short_range",
        "cfs",
        None,
    )
    assert run.run_date == utc(2026, 11, 20, 12)
    assert len(run.values) == 18
    assert run.values[0] == (utc(2026, 11, 20, 13), 4215.37)
    assert run.values[10] == (utc(2026, 11, 20, 23), 4420.15)
    assert run.values[-1] == (utc(2026, 11, 21, 6), 4305.6)
    assert [r.arg("series") for r in replay.requests_to(REACH_PATH)] == ["short_range"]


def test_nwm_medium_range_keeps_the_ensemble_mean(replay):
    replay.add(REACH_PATH, raw("reach_724696_streamflow_medium_range.json"), query={"series": "medium_range"})

    runs = NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_MEDIUM_RANGE, station_number=STATION)

    assert runs == [
        ForecastRunData(
            station_number=STATION,
            source="NOAA_NWM_MEDIUM_RANGE",
            data_type="nwm_medium_range",
            run_date=utc(2026, 11, 20, 6),
            unit="cfs",
            values=(
                (utc(2026, 11, 20, 7), 4180.5),
                (utc(2026, 11, 20, 13), 4402.25),
                (utc(2026, 11, 20, 19), 4611.0),
                (utc(2026, 11, 21, 1), 4533.75),
            ),
            member=None,
        )
    ]


def test_nwm_medium_range_members_on_request(replay):
    replay.add(REACH_PATH, raw("reach_724696_streamflow_medium_range.json"))

    runs = NoaaNwpsHook().get_nwm_forecast(
        REACH, DataType.NWM_MEDIUM_RANGE, station_number=STATION, include_members=True
    )

    assert [r.member for r in runs] == [
        None,
        "member1",
        "member2",
        "member3",
        "member4",
        "member5",
        "member6",
    ]
    assert len(runs[1].values) == 5  # member1 runs longer than the others
    assert runs[1].values[-1] == (utc(2026, 11, 21, 7), 4470.9)
    assert {r.run_date for r in runs} == {utc(2026, 11, 20, 6)}


def test_nwm_long_range_mean(replay):
    replay.add(REACH_PATH, raw("reach_724696_streamflow_long_range.json"), query={"series": "long_range"})

    (run,) = NoaaNwpsHook().get_nwm_forecast(REACH, "nwm_long_range", station_number=STATION)

    assert run.source == "NOAA_NWM_LONG_RANGE"
    assert run.run_date == utc(2026, 11, 20, 0)
    assert run.values == (
        (utc(2026, 11, 20, 6), 4100.0),
        (utc(2026, 11, 20, 12), 4150.5),
        (utc(2026, 11, 20, 18), 4201.25),
    )


def test_nwm_empty_series_returns_empty_list(replay):
    doc = load("reach_724696_streamflow_short_range.json")
    doc["shortRange"] = {}
    replay.add(REACH_PATH, doc)

    assert NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_SHORT_RANGE, station_number=STATION) == []


def test_nwm_series_without_data_points_returns_empty_list(replay):
    doc = load("reach_724696_streamflow_short_range.json")
    doc["shortRange"]["series"]["data"] = []
    replay.add(REACH_PATH, doc)

    assert NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_SHORT_RANGE, station_number=STATION) == []


def test_nwm_unknown_unit_is_a_payload_error(replay):
    doc = load("reach_724696_streamflow_short_range.json")
    doc["shortRange"]["series"]["units"] = "m³/s"
    replay.add(REACH_PATH, doc)

    with pytest.raises(PayloadError) as caught:
        NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_SHORT_RANGE, station_number=STATION)

    assert str(caught.value).startswith(
        f"noaa: station {STATION}: NWM reach {REACH} shortRange.series: flow unit 'm³/s' is not one of"
    )


def test_nwm_answer_without_the_requested_series_is_a_payload_error(replay):
    doc = load("reach_724696_streamflow_short_range.json")
    del doc["shortRange"]
    replay.add(REACH_PATH, doc)

    with pytest.raises(PayloadError, match="has no 'shortRange' series"):
        NoaaNwpsHook().get_nwm_forecast(REACH, DataType.NWM_SHORT_RANGE, station_number=STATION)


def test_nwm_refuses_a_non_nwm_data_type_without_calling_the_service(replay):
    with pytest.raises(ConfigurationError, match="'daily_mean' is not an NWM forecast type"):
        NoaaNwpsHook().get_nwm_forecast(REACH, DataType.DAILY_MEAN, station_number=STATION)
    assert replay.requests == []


# --------------------------------------------------------------------------- connection


def test_connection_host_may_already_include_the_api_prefix(replay, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOAA_NWPS", json.dumps({"conn_type": "http", "host": f"{replay.url}/nwps/v1"})
    )
    replay.add(GAUGE_PATH, raw("gauge_FIHM1.json"))

    assert NoaaNwpsHook().get_gauge(LID)["lid"] == LID
    assert [r.path for r in replay.requests] == [GAUGE_PATH]
