"""ECCC hooks against the replay server (real HTTP on 127.0.0.1) with recorded service answers.

Expected values are read by hand from the fixture files in ``tests/fixtures/eccc/`` (see its
README for provenance); the UTC instants are the LST timestamps of the files plus their offset.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    PermanentSourceError,
    StationNotFoundError,
    TransientSourceError,
)
from streamflow.canonical import OBSERVATION_COLUMNS, OBSERVATION_DTYPES
from streamflow.hooks.base import PullStation
from streamflow.hooks.eccc import (
    DATAMART_STATION_LIST_PATH,
    WATEROFFICE_DAILY_PATH,
    WATEROFFICE_REALTIME_PATH,
    EcccHook,
)
from streamflow.vocabulary import Agency, DataType
from streamflow.windows import (
    WATEROFFICE_DAILY_MAX_SPAN,
    WATEROFFICE_REALTIME_MAX_SPAN,
    RequestWindow,
    Window,
    chunk_window,
    datamart_seam,
    eccc_realtime_request,
)

from streamflow.testing.replay import Request, Response, fixture_bytes

UTC = timezone.utc

DM_10AB001 = "eccc/datamart/bcgov-dischargeobs_YT_10AB001_hourly_hydrometric.csv"
DM_05RE001 = "eccc/datamart/env_canada_MB_05RE001_hourly_hydrometric.csv"
DM_02DD006 = "eccc/datamart/env_canada_ON_02DD006_hourly_hydrometric.csv"
DM_02KF005 = "eccc/datamart/env_canada_ON_02KF005_hourly_hydrometric.csv"
STATION_LIST_EXCERPT = "eccc/datamart/env_canada_hydrometric_StationList_excerpt.csv"
STATION_LIST_2015 = "eccc/datamart/snowsky_hydrometric_StationList_2015.csv"
WO_RT_P46_DAY = "eccc/wateroffice/tidyhydat_realtime_08MF005_p46_2025-10-22_2025-10-22_dc2b41.csv"
WO_RT_EMPTY = "eccc/wateroffice/tidyhydat_realtime_08MF005_p46_2025-01-01_2025-01-02_d311f2.csv"
WO_RT_P47_DAY = "eccc/wateroffice/HANDMADE_realtime_08MF005_p47_2025-10-22_from_dc2b41.csv"
WO_DAILY_2023 = "eccc/wateroffice/tidyhydat_daily_08MF005_pflow_2023-01-01_2023-12-31_43c7c4.csv"
WO_DAILY_EMPTY = "eccc/wateroffice/tidyhydat_daily_08MF005_pflow_2025-10-27_2025-10-29_7dfc54.csv"

CSV_HEADERS = {"Content-Type": "text/csv; charset=utf-8", "X-Gzip": "1"}  # the service gzips


def dm_path(province: str, station: str, frequency: str) -> str:
    return f"/today/hydrometric/csv/{province}/{frequency}/{province}_{station}_{frequency}_hydrometric.csv"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def fixed_clock(text: str):
    instant = datetime.fromisoformat(text)
    return lambda: instant


@pytest.fixture(autouse=True)
def denver_local_time():
    """conftest sets TZ=America/Denver; tzset() makes the process's local time actually follow it."""
    time.tzset()
    assert time.localtime(1_700_000_000).tm_gmtoff == -7 * 3600  # 2023-11-14: MST
    yield
    time.tzset()


def pull_window(hook: EcccHook, data_type: str, start: datetime, end: datetime, *, region: str | None = None):
    """What the station pull does with a long window: chunk it once (by max_chunk and at the
    Datamart seam), then fetch chunk by chunk."""
    now = hook._now()
    chunks = chunk_window(
        Window(start, end), source="eccc", data_type=DataType(data_type), max_chunk=hook.max_chunk(data_type), now=now
    )
    station = PullStation("08MF005" if region is None else "10AB001", Agency.EC, region=region)
    frames = [hook.fetch_observations(station, data_type, c.start, c.end) for c in chunks]
    return pd.concat(frames, ignore_index=True)


def plan(start: datetime, end: datetime, now: datetime) -> list[RequestWindow]:
    """The real-time requests a window becomes: the pull's chunks, each mapped to its one request."""
    chunks = chunk_window(
        Window(start, end), source="eccc", data_type=DataType.REALTIME_15MIN,
        max_chunk=WATEROFFICE_REALTIME_MAX_SPAN, now=now,
    )
    return [r for r in (eccc_realtime_request(c.start, c.end, now=now) for c in chunks) if r is not None]


def assert_canonical(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == OBSERVATION_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == OBSERVATION_DTYPES


def realtime_wateroffice_from_datamart(datamart_fixture: str, *, offset_cms: float = 0.0, honour_window=True):
    """A Water Office real_time_data answer (parameter 47) made from a Datamart file's rows.

    Hand-made (no recording of the same station from both services exists): the Datamart LST
    instants re-written in UTC ``Z`` form, the discharge value (+ ``offset_cms``), approval
    Provisional. Like the real service it keeps only rows inside [start_date, end_date] (UTC).
    """
    header = (
        "\ufeff ID,Date,Parameter/Paramètre,Value/Valeur,Qualifier/Qualificatif,Symbol/Symbole,"
        "Approval/Approbation,Grade/Classification,Qualifiers/Qualificatifs"
    )
    rows = []
    for line in fixture_bytes(datamart_fixture).decode("utf-8").splitlines()[1:]:
        fields = line.split(",")
        instant = datetime.fromisoformat(fields[1]).astimezone(UTC)
        value = float(fields[6]) + offset_cms
        rows.append(
            (instant, f"{fields[0]},{instant:%Y-%m-%dT%H:%M:%SZ},47,{value:g},,,Provisional/Provisoire,,")
        )
    served: list[datetime] = []

    def handler(request: Request) -> Response:
        first = datetime.strptime(request.arg("start_date"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        last = datetime.strptime(request.arg("end_date"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        chosen = [(t, r) for t, r in rows if not honour_window or first <= t <= last]
        served.extend(t for t, _ in chosen)
        return Response(200, "\r\n".join([header] + [r for _, r in chosen]) + "\r\n", dict(CSV_HEADERS))

    return handler, served


def wateroffice_day_file(fixture: str):
    """real_time_data for one recorded day: the rows inside [start_date, end_date], else header only."""
    lines = fixture_bytes(fixture).decode("utf-8-sig").split("\r\n")

    def handler(request: Request) -> Response:
        first = request.arg("start_date").replace(" ", "T") + "Z"
        last = request.arg("end_date").replace(" ", "T") + "Z"
        chosen = [ln for ln in lines[1:] if first <= ln.split(",")[1] <= last]
        return Response(200, "\ufeff" + "\r\n".join([lines[0]] + chosen), dict(CSV_HEADERS))

    return handler


# ------------------------------------------------------------------------------------------
# Datamart (recent days)
# ------------------------------------------------------------------------------------------


def test_datamart_level_and_discharge_file_gives_utc_discharge(replay):
    replay.add(dm_path("YT", "10AB001", "hourly"), fixture_bytes(DM_10AB001))
    hook = EcccHook(now=fixed_clock("2023-11-06T21:00:00+00:00"))

    frame = hook.get_instantaneous(
        ["10AB001"],
        datetime(2023, 11, 5, 12, 0, tzinfo=UTC),
        datetime(2023, 11, 6, 21, 0, tzinfo=UTC),
        provinces={"10AB001": "YT"},
    )

    assert_canonical(frame)
    # Lines 338..726 of the file: 2023-11-05T04:00:00-08:00 (= 12:00Z) .. 2023-11-06T12:20:00-08:00 (= 20:20Z)
    assert len(frame) == 389
    first, last = frame.iloc[0], frame.iloc[-1]
    assert first["observed_at"] == utc(
        "2023-11-05T12:00:00Z"
    )  # "2023-11-05T04:00:00-08:00,1.537,,,1,138,,,1"
    assert first["discharge"] == 138.0
    assert last["observed_at"] == utc("2023-11-06T20:20:00Z")  # "2023-11-06T12:20:00-08:00,1.520,,,1,134,,,1"
    assert last["discharge"] == 134.0
    assert set(frame["quality_code"]) == {"P"}  # QA/QC 1 everywhere
    assert set(frame["unit"]) == {"cms"}
    assert set(frame["data_type"]) == {"realtime_15min"}
    assert set(frame["station_number"]) == {"10AB001"}
    assert (frame["observed_at"].diff().dropna() == pd.Timedelta(minutes=5)).all()
    # One request, the small "hourly" file (the window starts within 36 h of now); no station
    # list (the province was given), no Water Office.
    assert [r.path for r in replay.requests] == [dm_path("YT", "10AB001", "hourly")]


def test_datamart_older_start_reads_daily_file_with_trailing_dot_values(replay):
    replay.add(dm_path("YT", "10AB001", "daily"), fixture_bytes(DM_10AB001))  # same format as hourly
    hook = EcccHook(now=fixed_clock("2023-11-06T21:00:00+00:00"))

    frame = hook.get_instantaneous(
        ["10ab001"],
        datetime(2023, 11, 4, tzinfo=UTC),
        datetime(2023, 11, 6, 21, tzinfo=UTC),
        provinces={"10AB001": "yt"},
    )

    assert len(frame) == 725  # every row of the file
    assert frame.iloc[0]["observed_at"] == utc("2023-11-04T08:00:00Z")  # 2023-11-04T00:00:00-08:00
    row = frame[frame["observed_at"] == utc("2023-11-04T08:20:00Z")].iloc[0]
    assert row["discharge"] == 140.0  # written "140." in the file
    assert [r.path for r in replay.requests] == [dm_path("YT", "10AB001", "daily")]


def test_discharge_only_station_with_province_from_station_list(replay):
    replay.add(DATAMART_STATION_LIST_PATH, fixture_bytes(STATION_LIST_EXCERPT))
    replay.add(dm_path("MB", "05RE001", "hourly"), fixture_bytes(DM_05RE001))
    hook = EcccHook(now=fixed_clock("2026-09-30T21:00:00+00:00"))
    window = (datetime(2026, 9, 30, 12, tzinfo=UTC), datetime(2026, 9, 30, 21, tzinfo=UTC))

    frame = hook.get_instantaneous(["05RE001"], *window)
    again = hook.get_instantaneous(["05RE001"], *window)

    # 2026-09-30T13:50:00-06:00 .. 14:15:00-06:00 -> 19:50Z .. 20:15Z
    assert list(frame["observed_at"]) == [
        utc(f"2026-09-30T{t}Z") for t in ("19:50", "19:55", "20:00", "20:05", "20:10", "20:15")
    ]
    assert list(frame["discharge"]) == [24.5, 25.0, 24.5, 24.3, 24.7, 25.0]
    assert list(frame["quality_code"]) == ["P"] * 6
    pd.testing.assert_frame_equal(frame, again)
    assert len(replay.requests_to(DATAMART_STATION_LIST_PATH)) == 1  # fetched once per hook


def test_level_only_station_gives_empty_frame_with_dtypes(replay):
    replay.add(dm_path("ON", "02DD006", "hourly"), fixture_bytes(DM_02DD006))
    hook = EcccHook(now=fixed_clock("2026-09-30T21:00:00+00:00"))

    frame = hook.get_instantaneous(
        ["02DD006"],
        datetime(2026, 9, 30, tzinfo=UTC),
        datetime(2026, 9, 30, 21, tzinfo=UTC),
        provinces={"02DD006": "ON"},
    )

    assert frame.empty
    assert_canonical(frame)
    assert len(replay.requests_to(dm_path("ON", "02DD006", "hourly"))) == 1


def test_several_stations_in_one_call(replay):
    replay.add(DATAMART_STATION_LIST_PATH, fixture_bytes(STATION_LIST_EXCERPT))
    replay.add(dm_path("ON", "02KF005", "hourly"), fixture_bytes(DM_02KF005))
    replay.add(dm_path("MB", "05RE001", "hourly"), fixture_bytes(DM_05RE001))
    hook = EcccHook(now=fixed_clock("2026-09-30T21:00:00+00:00"))

    frame = hook.get_instantaneous(
        ["02KF005", "05RE001"],
        datetime(2026, 9, 30, 20, 10, tzinfo=UTC),
        datetime(2026, 9, 30, 21, tzinfo=UTC),
    )

    # 02KF005 15:10..15:35-05:00 = 20:10..20:35Z (512, 514, 513, 513, 511, 511); 05RE001 20:10, 20:15Z
    by_station = frame.groupby("station_number")["discharge"].apply(list).to_dict()
    assert by_station == {"02KF005": [512.0, 514.0, 513.0, 513.0, 511.0, 511.0], "05RE001": [24.7, 25.0]}


def test_qa_qc_codes_symbols_bom_and_empty_fields(replay):
    # Hand-made from the 05RE001 recording: UTF-8 BOM in front, QA/QC 1..4, a discharge symbol,
    # an empty discharge value and an empty QA/QC.
    lines = fixture_bytes(DM_05RE001).decode("utf-8").split("\r\n")
    body = "\r\n".join(
        [
            "\ufeff" + lines[0],
            "05RE001,2026-09-30T13:50:00-06:00,,,,,24.5,,,1",
            "05RE001,2026-09-30T13:55:00-06:00,,,,,25.0,,,2",
            "05RE001,2026-09-30T14:00:00-06:00,,,,,24.5,,,3",
            "05RE001,2026-09-30T14:05:00-06:00,,,,,24.3,,,4",
            "05RE001,2026-09-30T14:10:00-06:00,,,,,,,,1",
            "05RE001,2026-09-30T14:15:00-06:00,,,,,25.0,,E,4",
            "05RE001,2026-09-30T14:20:00-06:00,,,,,25.1,,,",
        ]
    )
    replay.add(dm_path("MB", "05RE001", "hourly"), body.encode("utf-8"))
    hook = EcccHook(now=fixed_clock("2026-09-30T21:00:00+00:00"))

    frame = hook.get_instantaneous(
        ["05RE001"],
        datetime(2026, 9, 30, 19, tzinfo=UTC),
        datetime(2026, 9, 30, 21, tzinfo=UTC),
        provinces={"05RE001": "MB"},
    )

    assert list(frame["quality_code"]) == ["P", "P", "P", "A", "A,E", "P"]
    assert list(frame["discharge"]) == [24.5, 25.0, 24.5, 24.3, 25.0, 25.1]
    assert utc("2026-09-30T20:10:00Z") not in set(frame["observed_at"])  # empty value: no row


# ------------------------------------------------------------------------------------------
# Unknown stations and errors
# ------------------------------------------------------------------------------------------


def test_unknown_station_is_not_found(replay):
    replay.add(DATAMART_STATION_LIST_PATH, fixture_bytes(STATION_LIST_EXCERPT))
    hook = EcccHook(now=fixed_clock("2026-09-30T21:00:00+00:00"))

    with pytest.raises(StationNotFoundError) as info:
        hook.get_instantaneous(
            ["99ZZ999"], datetime(2026, 9, 30, tzinfo=UTC), datetime(2026, 9, 30, 21, tzinfo=UTC)
        )

    assert str(info.value).startswith("eccc: station 99ZZ999: unknown station")
    assert "station list" in str(info.value)
    assert not info.value.retryable


def test_malformed_station_number_is_refused_before_any_request(replay):
    with pytest.raises(
        StationNotFoundError, match=r"eccc: station 8MF5: unknown station.*not a Water Survey"
    ):
        EcccHook().get_daily_means(
            ["8MF5"], datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 2, 1, tzinfo=UTC)
        )
    assert replay.requests == []


def test_datamart_404_is_unknown_station(replay):
    hook = EcccHook(now=fixed_clock("2023-11-06T21:00:00+00:00"))
    with pytest.raises(
        StationNotFoundError, match=r"^eccc: station 10AB001: unknown station \(HTTP 404 from .*BC_10AB001"
    ):
        hook.get_instantaneous(
            ["10AB001"],
            datetime(2023, 11, 6, tzinfo=UTC),
            datetime(2023, 11, 6, 21, tzinfo=UTC),
            provinces={"10AB001": "BC"},
        )


def test_429_with_retry_after_is_retryable(replay):
    replay.add(dm_path("YT", "10AB001", "hourly"), Response(429, "Too Many Requests", {"Retry-After": "120"}))
    hook = EcccHook(now=fixed_clock("2023-11-06T21:00:00+00:00"))
    with pytest.raises(TransientSourceError) as info:
        hook.get_instantaneous(
            ["10AB001"],
            datetime(2023, 11, 6, tzinfo=UTC),
            datetime(2023, 11, 6, 21, tzinfo=UTC),
            provinces={"10AB001": "YT"},
        )
    assert info.value.retryable
    assert info.value.retry_after == 120
    assert info.value.status_code == 429
    assert str(info.value).startswith("eccc: station 10AB001: too many requests (HTTP 429")


def test_503_from_water_office_is_retryable(replay):
    replay.add(WATEROFFICE_DAILY_PATH, Response(503, "<html>Service Unavailable</html>"))
    with pytest.raises(
        TransientSourceError, match=r"^eccc: station 08MF005: service unavailable \(HTTP 503"
    ) as info:
        EcccHook().get_daily_means(
            ["08MF005"], datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC)
        )
    assert info.value.retryable


def test_400_is_permanent(replay):
    replay.add(WATEROFFICE_REALTIME_PATH, Response(400, "Invalid date"))
    hook = EcccHook(now=fixed_clock("2026-06-01T00:00:00+00:00"))
    with pytest.raises(PermanentSourceError, match=r"^eccc: station 08MF005: bad request \(HTTP 400") as info:
        hook.get_instantaneous(
            ["08MF005"], datetime(2025, 10, 22, tzinfo=UTC), datetime(2025, 10, 23, tzinfo=UTC)
        )
    assert not info.value.retryable


def test_body_cut_off_in_transfer_is_retryable(replay):
    replay.add(dm_path("YT", "10AB001", "hourly"), Response(200, fixture_bytes(DM_10AB001), truncate=True))
    hook = EcccHook(now=fixed_clock("2023-11-06T21:00:00+00:00"))
    with pytest.raises(TransientSourceError, match=r"^eccc: station 10AB001: response body cut off .*ChunkedEncodingError"):
        hook.get_instantaneous(
            ["10AB001"],
            datetime(2023, 11, 6, tzinfo=UTC),
            datetime(2023, 11, 6, 21, tzinfo=UTC),
            provinces={"10AB001": "YT"},
        )


def test_body_that_does_not_decompress_is_retryable(replay):
    replay.add(WATEROFFICE_DAILY_PATH, Response(200, b"not gzip at all", {"Content-Encoding": "gzip"}))
    with pytest.raises(TransientSourceError, match=r"^eccc: station 08MF005: response body does not decode"):
        EcccHook().get_daily_means(
            ["08MF005"], datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 1, 2, tzinfo=UTC)
        )


def test_body_ending_mid_row_is_retryable(replay):
    body = fixture_bytes(DM_05RE001)[:-12]  # complete HTTP answer, but the last row is cut short
    replay.add(dm_path("MB", "05RE001", "hourly"), body)
    hook = EcccHook(now=fixed_clock("2026-09-30T21:00:00+00:00"))
    with pytest.raises(TransientSourceError, match=r"ends in the middle of line 7 .*truncated"):
        hook.get_instantaneous(
            ["05RE001"],
            datetime(2026, 9, 30, tzinfo=UTC),
            datetime(2026, 9, 30, 21, tzinfo=UTC),
            provinces={"05RE001": "MB"},
        )


def test_timeout_is_retryable(replay):
    replay.add(WATEROFFICE_DAILY_PATH, Response(200, fixture_bytes(WO_DAILY_EMPTY), delay=0.5))
    hook = EcccHook(timeout=(1.0, 0.1))
    with pytest.raises(TransientSourceError, match=r"^eccc: station 08MF005: timed out"):
        hook.get_daily_means(
            ["08MF005"], datetime(2025, 10, 27, tzinfo=UTC), datetime(2025, 10, 29, tzinfo=UTC)
        )


# The Datamart header as the service sends it (leading space, duplicated names, UTF-8 "é", CRLF).
DM_HEADER = (
    b" ID,Date,Water Level / Niveau d'eau (m),Grade,Symbol / Symbole,QA/QC,"
    b"Discharge / D\xc3\xa9bit (cms),Grade,Symbol / Symbole,QA/QC\r\n"
)
MALFORMED_DATAMART = {
    "non-numeric value": (
        DM_HEADER + b"10AB001,2023-11-06T12:00:00-08:00,1.521,,,1,134,,,1\r\n"
        b"10AB001,2023-11-06T12:05:00-08:00,1.520,,,1,abc,,,1\r\n",
        r"^eccc: station 10AB001: Datamart file .*YT_10AB001_hourly_hydrometric.csv line 3: "
        r"discharge 'abc' is not a number",
    ),
    "bad timestamp": (
        DM_HEADER + b"10AB001,2023-11-06 noon,1.521,,,1,134,,,1\r\n",
        r"^eccc: station 10AB001: Datamart file .* line 2: timestamp '2023-11-06 noon' is not ISO 8601",
    ),
    "timestamp without offset": (
        DM_HEADER + b"10AB001,2023-11-06T12:00:00,1.521,,,1,134,,,1\r\n",
        r"line 2: timestamp '2023-11-06T12:00:00' has no UTC offset",
    ),
    "html instead of csv": (
        b"<!DOCTYPE html><html><body>Maintenance</body></html>",
        r"^eccc: station 10AB001: Datamart file .* line 1: unexpected header",
    ),
    "unknown QA/QC": (
        DM_HEADER + b"10AB001,2023-11-06T12:00:00-08:00,1.521,,,1,134,,,9\r\n",
        r"line 2: QA/QC '9' is not one of 1, 2, 3, 4",
    ),
    "short row in the middle": (
        DM_HEADER + b"10AB001,2023-11-06T12:00:00-08:00,1.521\r\n"
        b"10AB001,2023-11-06T12:05:00-08:00,1.520,,,1,134,,,1\r\n",
        r"line 2: 3 fields, the header has 10",
    ),
    "another station's file": (
        DM_HEADER + b"10AA001,2023-11-06T12:00:00-08:00,1.521,,,1,134,,,1\r\n",
        r"line 2: row is for station '10AA001'",
    ),
    "discharge not in cms": (
        DM_HEADER.replace(b"(cms)", b"(cfs)") + b"10AB001,2023-11-06T12:00:00-08:00,1.521,,,1,134,,,1\r\n",
        r"line 1: discharge column .* is not in cms",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_DATAMART))
def test_malformed_datamart_file_is_a_payload_error(replay, case):
    body, pattern = MALFORMED_DATAMART[case]
    replay.add(dm_path("YT", "10AB001", "hourly"), body)
    hook = EcccHook(now=fixed_clock("2023-11-06T21:00:00+00:00"))
    with pytest.raises(PayloadError, match=pattern) as info:
        hook.get_instantaneous(
            ["10AB001"],
            datetime(2023, 11, 6, tzinfo=UTC),
            datetime(2023, 11, 6, 21, tzinfo=UTC),
            provinces={"10AB001": "YT"},
        )
    assert not info.value.retryable
    assert info.value.source == "eccc" and info.value.station_number == "10AB001"


# ------------------------------------------------------------------------------------------
# Water Office real_time_data (older than the Datamart seam) and the seam itself
# ------------------------------------------------------------------------------------------


def test_long_window_is_split_into_water_office_requests_within_the_limit(replay):
    replay.add(WATEROFFICE_REALTIME_PATH, wateroffice_day_file(WO_RT_P47_DAY))
    hook = EcccHook(now=fixed_clock("2026-06-01T00:00:00+00:00"))  # seam 2026-05-03: all Water Office

    frame = pull_window(
        hook, "realtime_15min", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 10, 22, 23, 55, tzinfo=UTC)
    )

    sent = [
        (r.arg("stations[]"), r.arg("parameters[]"), r.arg("start_date"), r.arg("end_date"))
        for r in replay.requests_to(WATEROFFICE_REALTIME_PATH)
    ]
    # The pull's 90-day chunks share their boundary instant (the upsert makes the re-read harmless).
    assert sent == [
        ("08MF005", "47", "2025-01-01 00:00:00", "2025-04-01 00:00:00"),
        ("08MF005", "47", "2025-04-01 00:00:00", "2025-06-30 00:00:00"),
        ("08MF005", "47", "2025-06-30 00:00:00", "2025-09-28 00:00:00"),
        ("08MF005", "47", "2025-09-28 00:00:00", "2025-10-22 23:55:00"),
    ]
    for _, _, first, last in sent:
        span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
        assert span <= WATEROFFICE_REALTIME_MAX_SPAN
    # The hand-made parameter-47 day: 288 values, 00:00Z = 3537, 23:55Z = 3555, provisional.
    assert len(frame) == 288
    assert (
        frame.iloc[0]["observed_at"] == utc("2025-10-22T00:00:00Z") and frame.iloc[0]["discharge"] == 3537.0
    )
    assert (
        frame.iloc[-1]["observed_at"] == utc("2025-10-22T23:55:00Z") and frame.iloc[-1]["discharge"] == 3555.0
    )
    assert set(frame["quality_code"]) == {"P"}
    assert replay.unmatched == []


def test_water_office_header_only_answer_is_empty(replay):
    replay.add(WATEROFFICE_REALTIME_PATH, Response(200, fixture_bytes(WO_RT_EMPTY), dict(CSV_HEADERS)))
    hook = EcccHook(now=fixed_clock("2025-06-01T00:00:00+00:00"))

    frame = hook.get_instantaneous(
        ["08MF005"], datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, 23, 59, 59, tzinfo=UTC)
    )

    assert frame.empty
    assert_canonical(frame)
    assert len(replay.requests_to(WATEROFFICE_REALTIME_PATH)) == 1


def test_water_office_level_rows_are_not_taken_for_discharge(replay):
    # The verbatim recording is a parameter-46 (water level) answer: it must never become discharge.
    replay.add(WATEROFFICE_REALTIME_PATH, Response(200, fixture_bytes(WO_RT_P46_DAY), dict(CSV_HEADERS)))
    hook = EcccHook(now=fixed_clock("2026-06-01T00:00:00+00:00"))
    with pytest.raises(
        PayloadError,
        match=r"^eccc: station 08MF005: real_time_data answer .* line 2: parameter '46', expected 47",
    ):
        hook.get_instantaneous(
            ["08MF005"], datetime(2025, 10, 22, tzinfo=UTC), datetime(2025, 10, 23, tzinfo=UTC)
        )


def test_seam_between_water_office_and_datamart_has_no_gap_and_no_overlap(replay):
    # now 2023-12-04T12:00Z -> seam 2023-11-05T00:00Z (00:00 UTC, 29 days before today UTC).
    handler, served = realtime_wateroffice_from_datamart(DM_10AB001)
    replay.add(WATEROFFICE_REALTIME_PATH, handler)
    replay.add(dm_path("YT", "10AB001", "daily"), fixture_bytes(DM_10AB001))
    hook = EcccHook(now=fixed_clock("2023-12-04T12:00:00+00:00"))

    frame = pull_window(
        hook,
        "realtime_15min",
        datetime(2023, 11, 4, 8, tzinfo=UTC),
        datetime(2023, 11, 6, 20, 20, tzinfo=UTC),
        region="YT",
    )

    wo = replay.requests_to(WATEROFFICE_REALTIME_PATH)
    assert [(r.arg("start_date"), r.arg("end_date")) for r in wo] == [
        ("2023-11-04 08:00:00", "2023-11-04 23:59:59")
    ]
    assert len(replay.requests_to(dm_path("YT", "10AB001", "daily"))) == 1
    seam = utc("2023-11-05T00:00:00Z")
    # Water Office answered the 192 instants before the seam (00:00..15:55 LST on Nov 4), the
    # Datamart file supplies the 533 from the seam on (16:00 LST Nov 4 .. 12:20 LST Nov 6).
    assert len(served) == 192 and max(served) < seam.to_pydatetime()
    assert len(frame) == 192 + 533 == 725
    times = frame["observed_at"]
    assert times.is_unique
    assert times.iloc[0] == utc("2023-11-04T08:00:00Z") and times.iloc[-1] == utc("2023-11-06T20:20:00Z")
    assert (times.diff().dropna() == pd.Timedelta(minutes=5)).all()  # no gap anywhere, seam included
    assert frame[times == utc("2023-11-04T23:55:00Z")].iloc[0]["discharge"] == 138.0
    assert frame[times == seam].iloc[0]["discharge"] == 138.0


def test_seam_takes_each_instant_from_exactly_one_service(replay):
    # A Water Office that ignores end_date and answers everything, with values 1000 cms higher:
    # the seam rule still takes instants before the seam from it and the rest from the Datamart.
    handler, _ = realtime_wateroffice_from_datamart(DM_10AB001, offset_cms=1000.0, honour_window=False)
    replay.add(WATEROFFICE_REALTIME_PATH, handler)
    replay.add(dm_path("YT", "10AB001", "daily"), fixture_bytes(DM_10AB001))
    hook = EcccHook(now=fixed_clock("2023-12-04T12:00:00+00:00"))

    frame = pull_window(
        hook,
        "realtime_15min",
        datetime(2023, 11, 4, 8, tzinfo=UTC),
        datetime(2023, 11, 6, 20, 20, tzinfo=UTC),
        region="YT",
    )

    seam = utc("2023-11-05T00:00:00Z")
    before, after = frame[frame["observed_at"] < seam], frame[frame["observed_at"] >= seam]
    assert len(before) == 192 and (before["discharge"] > 1000).all()
    assert len(after) == 533 and (after["discharge"] < 1000).all()


def test_window_older_than_real_time_retention_sends_nothing(replay):
    hook = EcccHook(now=fixed_clock("2026-06-01T00:00:00+00:00"))
    frame = hook.get_instantaneous(
        ["08MF005"], datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 3, 1, tzinfo=UTC)
    )
    assert frame.empty
    assert_canonical(frame)
    assert replay.requests == []


def test_naive_times_are_refused(replay):
    with pytest.raises(ConfigurationError, match="naive"):
        EcccHook().get_instantaneous(["08MF005"], datetime(2025, 1, 1), datetime(2025, 1, 2))
    with pytest.raises(ConfigurationError, match="naive"):
        EcccHook().get_daily_means(["08MF005"], datetime(2025, 1, 1), datetime(2025, 1, 2))
    assert replay.requests == []


# ------------------------------------------------------------------------------------------
# The request plan (pure)
# ------------------------------------------------------------------------------------------


def test_seam_is_midnight_utc_29_days_back():
    assert datamart_seam(datetime(2023, 12, 4, 23, 59, tzinfo=UTC)) == datetime(2023, 11, 5, tzinfo=UTC)
    # An aware non-UTC "now" counts by its UTC day: 2023-12-04T20:00-07:00 is 2023-12-05T03:00Z.
    mst = timezone(timedelta(hours=-7))
    assert datamart_seam(datetime(2023, 12, 4, 20, tzinfo=mst)) == datetime(2023, 11, 6, tzinfo=UTC)


def test_plan_splits_at_the_seam_and_picks_the_datamart_file():
    now = datetime(2023, 12, 4, 12, tzinfo=UTC)
    requests = plan(datetime(2023, 11, 4, 8, tzinfo=UTC), now, now)
    assert requests == [
        RequestWindow(
            "wateroffice", datetime(2023, 11, 4, 8, tzinfo=UTC), datetime(2023, 11, 4, 23, 59, 59, tzinfo=UTC)
        ),
        RequestWindow("datamart", datetime(2023, 11, 5, tzinfo=UTC), now, "daily"),
    ]
    recent = plan(now - timedelta(hours=36), now, now)
    assert recent == [RequestWindow("datamart", now - timedelta(hours=36), now, "hourly")]
    older = plan(now - timedelta(hours=37), now, now)
    assert [w.frequency for w in older] == ["daily"]


def test_a_planner_chunk_of_max_chunk_is_one_water_office_request():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    chunk = EcccHook().max_chunk("realtime_15min")
    assert [w.service for w in plan(start, start + chunk, now)] == ["wateroffice"]
    assert len(plan(start, start + chunk + timedelta(seconds=1), now)) == 2


def test_earliest_matches_the_retention_the_plan_applies():
    now = datetime(2026, 6, 1, 15, tzinfo=UTC)
    earliest = EcccHook().earliest("realtime_15min", now)
    assert earliest == datetime(2024, 11, 8, tzinfo=UTC)  # 00:00 UTC of (now - 570 days)
    assert EcccHook().earliest("daily_mean", now) is None
    assert plan(earliest - timedelta(days=1), earliest, now)[0].start == earliest


@pytest.mark.parametrize("data_type", ["daily_mean", "realtime_15min"])
def test_a_window_longer_than_max_chunk_is_refused_not_re_chunked(replay, data_type):
    hook = EcccHook(now=fixed_clock("2026-06-01T00:00:00+00:00"))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + hook.max_chunk(data_type) + timedelta(seconds=1)
    with pytest.raises(ConfigurationError, match=r"^eccc: station 08MF005: window .* is longer than one"):
        hook.fetch_observations(PullStation("08MF005", Agency.EC), data_type, start, end)
    assert replay.requests == []


def test_max_chunk():
    hook = EcccHook()
    assert hook.max_chunk("realtime_15min") == WATEROFFICE_REALTIME_MAX_SPAN == timedelta(days=90)
    assert hook.max_chunk("daily_mean") == WATEROFFICE_DAILY_MAX_SPAN == timedelta(days=3653)
    with pytest.raises(ConfigurationError, match="rfc_forecast"):
        hook.max_chunk("rfc_forecast")


# ------------------------------------------------------------------------------------------
# Water Office daily_data (HYDAT daily means)
# ------------------------------------------------------------------------------------------


def test_daily_means_values_days_and_symbols(replay):
    replay.add(
        WATEROFFICE_DAILY_PATH,
        Response(200, fixture_bytes(WO_DAILY_2023), dict(CSV_HEADERS)),
        query={"start_date": "2023-01-01", "end_date": "2023-12-31"},
    )

    frame = EcccHook().get_daily_means(
        ["08MF005"], datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC)
    )

    assert_canonical(frame)
    assert len(frame) == 365
    assert frame.iloc[0].to_dict() == {
        "station_number": "08MF005",
        "observed_at": utc("2023-01-01T00:00:00Z"),
        "discharge": 721.0,
        "unit": "cms",
        "quality_code": "A",
        "data_type": "daily_mean",
    }
    tail = frame.iloc[-4:]  # "08MF005,2023-12-28,discharge/débit,1110,E" .. "2023-12-31,...,930,E"
    assert list(tail["observed_at"]) == [utc(f"2023-12-{d}T00:00:00Z") for d in (28, 29, 30, 31)]
    assert list(tail["discharge"]) == [1110.0, 1040.0, 970.0, 930.0]
    assert list(tail["quality_code"]) == ["A,E"] * 4
    assert (frame["quality_code"] == "A").sum() == 361
    request = replay.requests_to(WATEROFFICE_DAILY_PATH)[0]
    assert request.query == {
        "stations[]": ["08MF005"],
        "parameters[]": ["flow"],
        "start_date": ["2023-01-01"],
        "end_date": ["2023-12-31"],
    }


def test_daily_means_day_at_midnight_utc_must_be_inside_the_window(replay):
    replay.add(WATEROFFICE_DAILY_PATH, Response(200, fixture_bytes(WO_DAILY_EMPTY), dict(CSV_HEADERS)))
    EcccHook().get_daily_means(
        ["08MF005"], datetime(2023, 1, 1, 6, tzinfo=UTC), datetime(2023, 1, 31, 23, 59, tzinfo=UTC)
    )
    request = replay.requests_to(WATEROFFICE_DAILY_PATH)[0]
    assert (request.arg("start_date"), request.arg("end_date")) == ("2023-01-02", "2023-01-31")


def test_daily_means_header_only_is_empty(replay):
    replay.add(WATEROFFICE_DAILY_PATH, Response(200, fixture_bytes(WO_DAILY_EMPTY), dict(CSV_HEADERS)))
    frame = EcccHook().get_daily_means(
        ["08MF005"], datetime(2025, 10, 27, tzinfo=UTC), datetime(2025, 10, 29, tzinfo=UTC)
    )
    assert frame.empty
    assert_canonical(frame)


def test_daily_means_long_window_split_by_max_chunk(replay):
    replay.add(WATEROFFICE_DAILY_PATH, Response(200, fixture_bytes(WO_DAILY_EMPTY), dict(CSV_HEADERS)))
    pull_window(EcccHook(), "daily_mean", datetime(2000, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))
    sent = [(r.arg("start_date"), r.arg("end_date")) for r in replay.requests_to(WATEROFFICE_DAILY_PATH)]
    # The pull's chunks of 3,653 days share their boundary instant, hence their boundary day.
    assert sent == [
        ("2000-01-01", "2010-01-01"),
        ("2010-01-01", "2020-01-02"),  # + 3,653 days (two leap days in between, 2012 and 2016)
        ("2020-01-02", "2024-12-31"),
    ]
    for first, last in sent:
        assert date.fromisoformat(last) - date.fromisoformat(first) <= WATEROFFICE_DAILY_MAX_SPAN


def test_daily_level_answer_is_refused(replay):
    body = (
        "\ufeff ID,Date,Parameter/Paramètre,Value/Valeur,Symbol/Symbole\r\n"
        "08MF005,2023-01-01,water level/niveau,2.825,\r\n"
    )
    replay.add(WATEROFFICE_DAILY_PATH, Response(200, body, dict(CSV_HEADERS)))
    with pytest.raises(
        PayloadError,
        match=r"^eccc: station 08MF005: daily_data answer .* line 2: parameter 'water level/niveau'",
    ):
        EcccHook().get_daily_means(
            ["08MF005"], datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
        )


# ------------------------------------------------------------------------------------------
# Station metadata (Datamart station list)
# ------------------------------------------------------------------------------------------


def test_station_metadata_from_full_station_list(replay):
    replay.add(DATAMART_STATION_LIST_PATH, fixture_bytes(STATION_LIST_2015))  # BOM, CRLF, quoted names
    hook = EcccHook()

    meta = hook.get_station_metadata("10AB001")

    # '10AB001,"FRANCIS RIVER NEAR WATSON LAKE",60.473890,-129.118890,YT,UTC-08:00'
    assert meta == {
        "station_number": "10AB001",
        "name": "FRANCIS RIVER NEAR WATSON LAKE",
        "latitude": 60.47389,
        "longitude": -129.11889,
        "state": "YT",
        "timezone": "UTC-08:00",
        "agency": "EC",
    }
    assert hook.get_station_metadata("08MF005")["name"] == "FRASER RIVER AT HOPE"
    assert len(replay.requests_to(DATAMART_STATION_LIST_PATH)) == 1


def test_station_metadata_unknown_station(replay):
    replay.add(DATAMART_STATION_LIST_PATH, fixture_bytes(STATION_LIST_EXCERPT))
    with pytest.raises(
        StationNotFoundError,
        match=r"^eccc: station 10AB001: unknown station: not in the Datamart station list",
    ):
        EcccHook().get_station_metadata("10AB001")  # not in the 8-row excerpt


def test_station_list_missing_is_not_an_unknown_station(replay):
    with pytest.raises(PermanentSourceError) as info:
        EcccHook().get_station_metadata("10AB001")
    assert not isinstance(info.value, StationNotFoundError)
    assert "HTTP 404" in str(info.value) and "hydrometric_StationList.csv" in str(info.value)
