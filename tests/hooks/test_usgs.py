"""UsgsWaterDataHook against recorded Water Data OGC API answers replayed over real HTTP.

Expected values are read off the fixtures by hand (tests/fixtures/usgs/README.md says where each
file comes from). TZ is America/Denver (conftest), so any naive-time handling would shift the
instants and dates checked here by six or seven hours.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import socket
import ssl
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from streamflow.configurations import StationSpec
from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    PermanentSourceError,
    StationNotFoundError,
    TransientSourceError,
)
from streamflow.canonical import OBSERVATION_COLUMNS, OBSERVATION_DTYPES, empty_observations
from streamflow.hooks.usgs import UsgsWaterDataHook
from streamflow.vocabulary import Agency, DataType
from streamflow.windows import Window, chunk_window

from streamflow.testing.replay import ReplayServer, Response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "usgs"
DAILY = "/ogcapi/v1/collections/daily/items"
CONTINUOUS = "/ogcapi/v1/collections/continuous/items"
SITES = "/ogcapi/v1/collections/monitoring-locations/items"
USGS_HOST = "api.waterdata.usgs.gov"
UTC = dt.UTC
DENVER = ZoneInfo("America/Denver")
API_KEY = "k3y-S3CRET-0123456789"
# The cursor the recorded continuous page announces in its `next` link.
CURSOR = "NjZhNGUzZmI4YWJlNDJmY2IwOTQyYjVjMGZlOThmNjh8MjAyNi0xMC0wMSAwMDoxNTowMCswMDowMA"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def rehost(payload: dict, base: str) -> dict:
    """The recorded links name the public host; point them at the server that answers."""
    return json.loads(json.dumps(payload).replace(f"https://{USGS_HOST}", base))


def expected_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=OBSERVATION_COLUMNS)
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return frame.astype(OBSERVATION_DTYPES)


def sent(request, name: str) -> str | None:
    return request.arg(name)


def logged(caplog, capsys) -> str:
    """Everything logged: stdlib records and Airflow's structlog output (printed to stdout)."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


@pytest.fixture(autouse=True)
def library_environment(pinned_environment, monkeypatch):
    """Nothing from the shell configures dataretrieval (conftest already runs us in Denver time)."""
    for name in list(os.environ):
        if name.startswith("API_USGS_") or name.lower() in (
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATARETRIEVAL_CONFIG", os.devnull)
    assert time.strftime("%Z", time.localtime(1790000000)) in ("MST", "MDT")  # the trap is armed


@pytest.fixture
def hook(replay) -> UsgsWaterDataHook:
    # retries=0 goes through dataretrieval's own configuration: no library sleeps in tests.
    return UsgsWaterDataHook(retries=0)


# --------------------------------------------------------------------------- daily means


def test_daily_means_match_the_recorded_answer(replay, hook, caplog, capsys):
    replay.add(DAILY, rehost(load("MetOceanViewer_usgs_daily_items.json"), replay.url))
    caplog.set_level("INFO")

    # 20:00 MDT on 27 Sep is 02:00 UTC on 28 Sep: the window's first day is the 28th.
    frame = hook.get_daily_means(
        ["01646500"], datetime(2026, 9, 27, 20, 0, tzinfo=DENVER), datetime(2026, 9, 30, 23, 0, tzinfo=UTC)
    )

    expected = expected_frame(
        [
            ("01646500", "2026-09-28T00:00:00Z", 3800.0, "cfs", "P", "daily_mean"),
            ("01646500", "2026-09-29T00:00:00Z", 3330.0, "cfs", "P", "daily_mean"),
            ("01646500", "2026-09-30T00:00:00Z", 2840.0, "cfs", "P", "daily_mean"),
        ]
    )
    pd.testing.assert_frame_equal(frame, expected)
    assert list(frame.columns) == OBSERVATION_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == OBSERVATION_DTYPES
    assert [t.isoformat() for t in frame["observed_at"]] == [
        "2026-09-28T00:00:00+00:00",
        "2026-09-29T00:00:00+00:00",
        "2026-09-30T00:00:00+00:00",
    ]

    (request,) = replay.requests_to(DAILY)
    assert sent(request, "monitoring_location_id") == "USGS-01646500"
    assert sent(request, "parameter_code") == "00060"
    assert sent(request, "statistic_id") == "00003"
    assert sent(request, "time") == "2026-09-28/2026-09-30"
    assert "usgs: station 01646500: daily_mean 2026-09-28/2026-09-30: 3 rows" in logged(caplog, capsys)


def test_daily_rows_out_of_order_with_nulls_and_qualifiers(replay, hook):
    payload = load("MetOceanViewer_usgs_daily_items.json")
    features = payload["features"][::-1]  # newest first: 30th, 29th, 28th
    features[0]["properties"]["qualifier"] = ["ESTIMATED"]
    features[1]["properties"]["value"] = None
    features[2]["properties"].update(approval_status="Approved", qualifier=["ICE", "ESTIMATED"])
    payload["features"] = features
    replay.add(DAILY, payload)

    frame = hook.get_daily_means(
        ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
    )

    pd.testing.assert_frame_equal(
        frame,
        expected_frame(
            [
                ("01646500", "2026-09-28T00:00:00Z", 3800.0, "cfs", "A,Ice,e", "daily_mean"),
                ("01646500", "2026-09-30T00:00:00Z", 2840.0, "cfs", "P,e", "daily_mean"),
            ]
        ),
    )


def test_several_stations_go_in_one_request(replay, hook):
    replay.add(DAILY, {"type": "FeatureCollection", "features": [], "numberReturned": 0, "links": []})

    hook.get_daily_means(
        ["01646500", "USGS-01647000"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 28, tzinfo=UTC)
    )

    (request,) = replay.requests_to(DAILY)
    assert sent(request, "monitoring_location_id") == "USGS-01646500,USGS-01647000"
    assert sent(request, "time") == "2026-09-28/2026-09-28"


def test_discharge_in_cubic_metres_is_converted_and_unknown_units_refused(replay, hook):
    payload = load("MetOceanViewer_usgs_daily_items.json")
    payload["features"] = payload["features"][:1]
    payload["features"][0]["properties"].update(value="100", unit_of_measure="m^3/s")
    replay.add(DAILY, payload, times=1)

    frame = hook.get_daily_means(
        ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 28, tzinfo=UTC)
    )
    assert frame["discharge"].tolist() == [pytest.approx(3531.4666721488590)]
    assert frame["unit"].tolist() == ["cfs"]

    wrong = copy.deepcopy(payload)
    wrong["features"][0]["properties"]["unit_of_measure"] = "ft"
    replay.add(DAILY, wrong)
    with pytest.raises(PayloadError, match=r"^usgs: station 01646500: unexpected unit_of_measure 'ft'"):
        hook.get_daily_means(
            ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 28, tzinfo=UTC)
        )


# --------------------------------------------------------------------------- continuous


def _paged_continuous(replay, second_page: Response | None = None):
    """Page 1 = the recorded answer (its `next` link rehosted); page 2 = hand-made follow-up."""
    page1 = rehost(load("MetOceanViewer_usgs_continuous_items.json"), replay.url)
    page2 = second_page or Response(200, rehost(load("handmade_continuous_page2.json"), replay.url))

    def handler(request):
        return page2 if request.arg("cursor") else Response(200, page1)

    replay.add(CONTINUOUS, handler)


def test_instantaneous_values_follow_pages_to_the_end(replay, hook):
    _paged_continuous(replay)

    # 18:00 MDT on 30 Sep = 00:00 UTC on 1 Oct.
    frame = hook.get_instantaneous(
        ["01646500"], datetime(2026, 9, 30, 18, 0, tzinfo=DENVER), datetime(2026, 10, 1, 0, 30, tzinfo=UTC)
    )

    expected = expected_frame(
        [
            ("01646500", "2026-10-01T00:00:00Z", 2700.0, "cfs", "P", "realtime_15min"),
            ("01646500", "2026-10-01T00:05:00Z", 2750.0, "cfs", "P", "realtime_15min"),
            ("01646500", "2026-10-01T00:10:00Z", 2750.0, "cfs", "P", "realtime_15min"),
            ("01646500", "2026-10-01T00:15:00Z", 2750.0, "cfs", "P", "realtime_15min"),
            ("01646500", "2026-10-01T00:20:00Z", 2790.0, "cfs", "P", "realtime_15min"),
            # 00:25 arrived with "value": null and is not a measurement
            ("01646500", "2026-10-01T00:30:00Z", 2800.0, "cfs", "P,e", "realtime_15min"),
        ]
    )
    pd.testing.assert_frame_equal(frame, expected)

    first, second = replay.requests_to(CONTINUOUS)
    assert sent(first, "time") == "2026-10-01T00:00:00Z/2026-10-01T00:30:00Z"
    assert sent(first, "parameter_code") == "00060"
    assert sent(first, "monitoring_location_id") == "USGS-01646500"
    assert sent(second, "cursor") == CURSOR


def test_a_failing_second_page_is_a_retryable_error_and_returns_nothing(replay, hook):
    _paged_continuous(
        replay, second_page=Response(503, {"code": "ServiceUnavailable", "description": "upstream"})
    )

    with pytest.raises(TransientSourceError) as info:
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, 0, 30, tzinfo=UTC)
        )

    error = info.value
    assert error.retryable is True
    assert error.status_code == 503
    assert str(error).startswith(
        "usgs: station 01646500: service unavailable (HTTP 503 from …/collections/continuous/items): "
        "page 2 of a paged answer failed after 1 complete page(s); no partial data returned"
    )
    assert len(replay.requests_to(CONTINUOUS)) == 2


def test_a_cut_off_second_page_is_a_retryable_error(replay, hook):
    page2 = Response(200, rehost(load("handmade_continuous_page2.json"), replay.url), truncate=True)
    _paged_continuous(replay, second_page=page2)

    with pytest.raises(
        TransientSourceError, match=r"^usgs: station 01646500: connection failed \(…/collections"
    ):
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, 0, 30, tzinfo=UTC)
        )


def test_a_garbled_second_page_is_a_broken_page_not_a_format_change(replay, hook):
    _paged_continuous(
        replay,
        second_page=Response(200, "<html>502 Bad Gateway</html>", headers={"Content-Type": "text/html"}),
    )

    with pytest.raises(
        TransientSourceError,
        match=r"^usgs: station 01646500: broken page \(…/collections/continuous/items\): page 2",
    ):
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, 0, 30, tzinfo=UTC)
        )


def test_a_next_link_to_another_host_is_refused_not_followed(replay, hook):
    """The recorded page names the public host; dataretrieval will not follow it elsewhere.

    (So a proxy in front of the service must rewrite ``next`` links to its own host.)
    """
    replay.add(CONTINUOUS, load("MetOceanViewer_usgs_continuous_items.json"))

    with pytest.raises(PermanentSourceError, match=r"cross-host next-page link") as info:
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
        )
    assert info.value.retryable is False
    assert len(replay.requests) == 1


def test_continuous_time_without_offset_is_a_payload_error(replay, hook):
    payload = load("MetOceanViewer_usgs_continuous_items.json")
    payload["links"] = []
    payload["features"][0]["properties"]["time"] = "2026-10-01T00:00:00"
    replay.add(CONTINUOUS, payload)

    with pytest.raises(
        PayloadError, match=r"continuous time '2026-10-01T00:00:00' is not an instant with a UTC offset"
    ):
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
        )


def pull_window(hook, data_type: str, start: datetime, end: datetime) -> pd.DataFrame:
    """What the station pull does with a long window: chunk it once, fetch chunk by chunk."""
    chunks = chunk_window(
        Window(start, end), source=hook.source, data_type=DataType(data_type),
        max_chunk=hook.max_chunk(data_type), now=end,
    )
    station = StationSpec("01646500", Agency.USGS)
    frames = [hook.fetch_observations(station, data_type, c.start, c.end) for c in chunks]
    return pd.concat(frames, ignore_index=True)


def _intervals(requests) -> list[tuple[datetime, datetime]]:
    spans = []
    for request in requests:
        start, end = sent(request, "time").split("/")
        spans.append(
            (
                datetime.fromisoformat(start.replace("Z", "+00:00")),
                datetime.fromisoformat(end.replace("Z", "+00:00")),
            )
        )
    return spans


@pytest.mark.parametrize(
    "start, end, pieces",
    [
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2023, 6, 30, 12, 0, tzinfo=UTC), 8),  # 1,276.5 days / 180
        (datetime(2015, 3, 1, 6, 15, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC), 14),  # 2,497.7 days / 180
    ],
)
def test_long_continuous_windows_are_split_within_the_envelope(replay, hook, start, end, pieces):
    replay.add(CONTINUOUS, {"type": "FeatureCollection", "features": [], "numberReturned": 0, "links": []})

    frame = pull_window(hook, "realtime_15min", start, end)

    assert frame.empty
    spans = _intervals(replay.requests_to(CONTINUOUS))
    assert len(spans) == pieces
    assert spans[0][0] == start and spans[-1][1] == end
    for (_a, b), (c, _d) in zip(spans, spans[1:], strict=False):
        assert b == c  # contiguous: nothing skipped between requests
    for a, b in spans:
        assert timedelta(0) < b - a <= timedelta(days=180) < timedelta(days=1100)


def test_long_daily_windows_are_split_into_adjacent_date_ranges(replay, hook):
    replay.add(DAILY, {"type": "FeatureCollection", "features": [], "numberReturned": 0, "links": []})

    pull_window(hook, "daily_mean", datetime(2000, 1, 1, tzinfo=UTC), datetime(2012, 12, 31, tzinfo=UTC))

    # Chunks share their boundary instant, so the boundary day is asked for by both (the upsert
    # makes that harmless); no day is skipped.
    assert [sent(r, "time") for r in replay.requests_to(DAILY)] == [
        "2000-01-01/2009-12-29",  # 3,651 dates: the dates any 3,650-day window touches
        "2009-12-29/2012-12-31",
    ]


@pytest.mark.parametrize("data_type", ["daily_mean", "realtime_15min"])
def test_a_window_longer_than_max_chunk_is_refused_not_re_chunked(replay, hook, data_type):
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = start + UsgsWaterDataHook.max_chunk(data_type) + timedelta(seconds=1)
    with pytest.raises(ConfigurationError, match=r"^usgs: station 01646500: window .* is longer than one"):
        hook.fetch_observations(StationSpec("01646500", Agency.USGS), data_type, start, end)
    assert replay.requests == []


@pytest.mark.parametrize("data_type", ["daily_mean", "realtime_15min"])
def test_a_window_of_max_chunk_is_one_request(replay, hook, data_type):
    path, method = (
        (DAILY, hook.get_daily_means) if data_type == "daily_mean" else (CONTINUOUS, hook.get_instantaneous)
    )
    replay.add(path, {"type": "FeatureCollection", "features": [], "numberReturned": 0, "links": []})
    start = datetime(2020, 1, 1, 6, 0, tzinfo=UTC)

    method(["01646500"], start, start + UsgsWaterDataHook.max_chunk(data_type))

    assert len(replay.requests_to(path)) == 1


def test_max_chunk_tells_the_planner_the_request_windows():
    assert UsgsWaterDataHook.max_chunk("realtime_15min") == timedelta(days=180)
    assert UsgsWaterDataHook.max_chunk("realtime_15min") < UsgsWaterDataHook.CONTINUOUS_ENVELOPE
    assert UsgsWaterDataHook.max_chunk("daily_mean") == timedelta(days=3650)
    with pytest.raises(ValueError, match="no observations of data type 'rfc_forecast'"):
        UsgsWaterDataHook.max_chunk("rfc_forecast")


# --------------------------------------------------------------------------- empty answers


@pytest.mark.parametrize("kind", ["daily", "continuous"])
def test_an_empty_answer_keeps_the_canonical_dtypes(replay, hook, kind):
    path, method = (DAILY, hook.get_daily_means) if kind == "daily" else (CONTINUOUS, hook.get_instantaneous)
    replay.add(path, {"type": "FeatureCollection", "features": [], "numberReturned": 0, "links": []})

    frame = method(["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))

    assert frame.empty
    assert list(frame.columns) == OBSERVATION_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == OBSERVATION_DTYPES
    pd.testing.assert_frame_equal(frame, empty_observations())
    assert len(replay.requests) == 1  # no schema look-up behind our back


# --------------------------------------------------------------------------- site metadata


def test_site_metadata_from_monitoring_locations(replay, hook):
    replay.add(SITES, rehost(load("MetOceanViewer_usgs_monitoring_location.json"), replay.url))

    meta = hook.get_site_metadata("01646500")

    assert meta == {
        "name": "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA",
        "latitude": 38.949777777777776,
        "longitude": -77.12763888888888,
        "timezone": "America/New_York",  # "EST" with uses_daylight_savings "Y"
        "huc_code": "020700081005",
        "state": "MD",  # state_code "24"
        "catchment_area": pytest.approx(29940.26255548416),  # 11,560 mi² × 2.589988110336 km²/mi²
        "agency": "USGS",
    }
    (request,) = replay.requests_to(SITES)
    assert sent(request, "id") == "USGS-01646500"


def test_unknown_station_metadata_is_station_not_found(replay, hook):
    replay.add(SITES, {"type": "FeatureCollection", "features": [], "numberReturned": 0, "links": []})

    with pytest.raises(StationNotFoundError, match=r"^usgs: station 09999999: unknown station") as info:
        hook.get_site_metadata("09999999")
    assert info.value.retryable is False


def test_not_found_from_a_data_collection_is_station_not_found(replay, hook):
    replay.add(DAILY, Response(404, {"code": "NotFound", "description": "Location not found"}))

    with pytest.raises(
        StationNotFoundError,
        match=r"^usgs: station 09999999: unknown station \(HTTP 404 from …/collections/daily/items\)",
    ):
        hook.get_daily_means(
            ["09999999"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
        )


# --------------------------------------------------------------------------- service errors


def test_429_is_retryable_and_carries_retry_after(replay, hook):
    replay.add(
        CONTINUOUS, Response(429, {"error": {"code": "OVER_RATE_LIMIT"}}, headers={"Retry-After": "120"})
    )

    with pytest.raises(TransientSourceError) as info:
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
        )

    error = info.value
    assert error.retryable is True
    assert error.status_code == 429
    assert error.retry_after == 120.0
    assert str(error).startswith(
        "usgs: station 01646500: too many requests (HTTP 429 from …/collections/continuous/items)"
    )
    assert str(error).endswith(f"retry after 120 s [host {urlsplit(replay.url).netloc}]")
    assert len(replay.requests) == 1  # retries=0: the library did not sleep and retry


def test_503_is_retryable(replay, hook):
    replay.add(
        DAILY, Response(503, "<html>Service Unavailable</html>", headers={"Content-Type": "text/html"})
    )

    with pytest.raises(TransientSourceError) as info:
        hook.get_daily_means(
            ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
        )

    assert info.value.retryable is True
    assert str(info.value).startswith(
        "usgs: station 01646500: service unavailable (HTTP 503 from …/collections/daily/items)"
    )


def test_a_reset_connection_is_retryable(replay, hook):
    replay.add(DAILY, Response(reset=True))

    with pytest.raises(TransientSourceError, match=r"^usgs: station 01646500: connection failed"):
        hook.get_daily_means(
            ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
        )


def test_library_retries_are_configurable(replay):
    replay.add(DAILY, Response(503, {"code": "ServiceUnavailable"}), times=1)
    replay.add(DAILY, rehost(load("MetOceanViewer_usgs_daily_items.json"), replay.url))

    frame = UsgsWaterDataHook(retries=1).get_daily_means(
        ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
    )

    assert frame["discharge"].tolist() == [3800.0, 3330.0, 2840.0]
    assert len(replay.requests_to(DAILY)) == 2


@pytest.mark.parametrize(
    "fixture, text",
    [
        ("MetOceanViewer_usgs_error_time_envelope.json", "The requested time envelope is too large"),
        ("MetOceanViewer_usgs_error_unknown_property.json", "At least one requested property wasn't found"),
    ],
)
def test_ogc_invalid_query_is_permanent(replay, hook, fixture, text):
    replay.add(CONTINUOUS, Response(400, load(fixture)))

    with pytest.raises(PermanentSourceError) as info:
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
        )

    assert info.value.retryable is False
    assert str(info.value).startswith(
        "usgs: station 01646500: bad request (HTTP 400 from …/collections/continuous/items)"
    )
    assert "InvalidQuery" in str(info.value) and text in str(info.value)


def test_invalid_api_key_is_permanent(replay, hook):
    replay.add(DAILY, Response(403, load("MetOceanViewer_usgs_error_invalid_key.json")))

    with pytest.raises(
        PermanentSourceError, match=r"forbidden \(check the API key\).*API_KEY_INVALID"
    ) as info:
        hook.get_daily_means(
            ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
        )
    assert info.value.retryable is False


@pytest.mark.parametrize(
    "body",
    [
        Response(200, "<html><body>Gateway says hello</body></html>", headers={"Content-Type": "text/html"}),
        Response(200, "[1, 2, 3]", headers={"Content-Type": "application/json"}),
    ],
    ids=["html", "json-list"],
)
def test_a_malformed_body_is_a_payload_error(replay, hook, body):
    replay.add(DAILY, body)

    with pytest.raises(
        PayloadError,
        match=r"^usgs: station 01646500: answer could not be parsed \(…/collections/daily/items\)",
    ) as info:
        hook.get_daily_means(
            ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
        )
    assert info.value.retryable is False


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("which", ["start", "end"])
def test_naive_datetimes_are_refused_before_any_request(replay, hook, which):
    aware, naive = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1)  # noqa: DTZ001 - the point
    start, end = (naive, aware) if which == "start" else (aware, naive)

    for method in (hook.get_daily_means, hook.get_instantaneous):
        with pytest.raises(ValueError, match=rf"usgs: {which} 2026-10-01T00:00:00 is naive"):
            method(["01646500"], start, end)
    assert replay.requests == []


def test_reversed_windows_and_foreign_station_numbers_are_refused(replay, hook):
    with pytest.raises(ValueError, match="is after end"):
        hook.get_instantaneous(
            ["01646500"], datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
        )
    with pytest.raises(ValueError, match="'08MF005' is not a USGS site number"):
        hook.get_daily_means(
            ["08MF005"], datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
        )
    assert replay.requests == []


def test_hook_identity():
    from streamflow.provider import get_provider_info

    assert UsgsWaterDataHook.conn_name_attr == "conn_id"
    assert UsgsWaterDataHook.default_conn_name == "usgs_waterdata"
    assert UsgsWaterDataHook.default_host == "https://api.waterdata.usgs.gov"
    assert UsgsWaterDataHook.source == "usgs"
    assert UsgsWaterDataHook.hook_name
    # The connection type the hook declares is the one the provider registers it under.
    registered = {c["connection-type"]: c["hook-class-name"] for c in get_provider_info()["connection-types"]}
    assert registered[UsgsWaterDataHook.conn_type] == "streamflow.hooks.usgs.UsgsWaterDataHook"


# --------------------------------------------------------------------------- API key


def test_the_library_withholds_the_key_from_a_redirected_host(replay, monkeypatch, caplog, capsys):
    """dataretrieval sends X-Api-Key only to https://api.waterdata.usgs.gov; a replay host gets none."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_USGS_WATERDATA",
        json.dumps({"conn_type": "http", "host": replay.url, "password": API_KEY}),
    )
    replay.add(DAILY, Response(429, {"error": {"code": "OVER_RATE_LIMIT"}}, headers={"Retry-After": "5"}))
    caplog.set_level("DEBUG")

    with pytest.raises(TransientSourceError) as info:
        UsgsWaterDataHook(retries=0).get_daily_means(
            ["01646500"], datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC)
        )

    (request,) = replay.requests
    assert "x-api-key" not in request.headers
    assert API_KEY not in json.dumps(request.query)
    assert API_KEY not in str(info.value) and API_KEY not in logged(caplog, capsys)


@pytest.fixture
def usgs_https(tmp_path, monkeypatch):
    """A replay server that *is* api.waterdata.usgs.gov as far as the client can tell.

    TLS with a throw-away certificate for that name (trusted through SSL_CERT_FILE, which httpx
    reads), and the name resolved to 127.0.0.1 — the test equivalent of an /etc/hosts entry. Only
    this host receives the API key from dataretrieval, so only here can the key's arrival be seen.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, USGS_HOST)])
    now = dt.datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(USGS_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))

    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host in (USGS_HOST, USGS_HOST.encode()):
            host = "127.0.0.1"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    server = ReplayServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server._server.socket = context.wrap_socket(server._server.socket, server_side=True)
    with server:
        base = f"https://{USGS_HOST}:{server._server.server_address[1]}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_USGS_WATERDATA",
            json.dumps({"conn_type": "http", "host": base, "password": API_KEY}),
        )
        yield server, base


def test_the_api_key_reaches_the_usgs_host_and_never_a_message(usgs_https, caplog, capsys):
    server, base = usgs_https
    server.add(DAILY, rehost(load("MetOceanViewer_usgs_daily_items.json"), base), times=1)
    server.add(DAILY, Response(429, {"error": {"code": "OVER_RATE_LIMIT"}}, headers={"Retry-After": "30"}))
    caplog.set_level("DEBUG")
    hook = UsgsWaterDataHook(retries=0)
    window = (datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC))

    frame = hook.get_daily_means(["01646500"], *window)
    with pytest.raises(TransientSourceError) as info:
        hook.get_daily_means(["01646500"], *window)

    assert frame["discharge"].tolist() == [3800.0, 3330.0, 2840.0]
    assert [r.headers.get("x-api-key") for r in server.requests] == [API_KEY, API_KEY]
    assert all(API_KEY not in json.dumps(r.query) for r in server.requests)  # a header, not a URL parameter
    assert info.value.retry_after == 30.0
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value.__dict__)
    assert API_KEY not in logged(caplog, capsys)
