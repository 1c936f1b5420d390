"""The read API (/streamflow/api/v1) through Airflow's real app, against databases filled through the
project's own pulls (``filled_db``: USGS daily means and real time, EC real time, an RFC forecast, all
pulled by ``dag.test()`` from the replay server's stand-in services)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from streamflow.db.read import CMS_PER_CFS
from streamflow.testing.fakes.eccc import FakeEccc
from streamflow.testing.replay import fixture_bytes
from tests.web.conftest import as_role, bearer

API = "/streamflow/api/v1"
OBS = f"{API}/stations/01646500/observations"
PROBLEM = "application/problem+json"
ROUTES = [
    f"{API}/stations",
    f"{API}/stations/01646500",
    OBS,
    f"{API}/stations/01013500/forecasts",
    f"{API}/stations/01013500/forecasts/latest",
    f"{API}/forecasts/1",
    f"{API}/verification?station=01013500",
    f"{API}/openapi.json",
]


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _observations(api, url=OBS, **params) -> list[dict]:
    response = api.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()["observations"]


def _csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# --------------------------------------------------------------------------- exact values and edges


def test_daily_means_exact_values_interval_inclusive_both_ends(api, filled_db):
    rows = _observations(api, type="daily_mean", datetime="2025-03-01T00:00:00Z/2025-03-10T00:00:00Z")
    days = [f"2025-03-{d:02d}" for d in range(1, 11)]
    assert [r["observed_at"] for r in rows] == [f"{d}T00:00:00Z" for d in days]  # both ends included
    assert [r["discharge"] for r in rows] == [filled_db.usgs.value("01646500", d) for d in days]
    assert {(r["unit"], r["quality_code"], r["type"]) for r in rows} == {("cfs", "A", "daily_mean")}


def test_interval_edges(api):
    def instants(interval):
        return [r["observed_at"][:10] for r in _observations(api, type="daily_mean", datetime=interval)]

    assert instants("2025-03-05T00:00:00Z") == ["2025-03-05"]  # an instant: exactly that row
    assert instants("2025-03-05T00:00:01Z") == []
    assert instants("2025-03-01T00:00:01Z/2025-03-03T00:00:00Z") == ["2025-03-02", "2025-03-03"]
    assert instants("2025-03-01T00:00:00Z/2025-03-02T23:59:59.999999Z") == ["2025-03-01", "2025-03-02"]
    assert instants("../2025-01-02T00:00:00Z") == ["2025-01-01", "2025-01-02"]  # open start
    assert instants("/2025-01-02T00:00:00Z") == ["2025-01-01", "2025-01-02"]  # empty = open
    # an offset is honoured: 05:00+05:00 is midnight UTC
    assert instants("2025-03-01T05:00:00+05:00/2025-03-01T19:00:00-05:00") == ["2025-03-01", "2025-03-02"]
    tail = instants("2026-01-01T00:00:00Z/..")
    assert tail[0] == "2026-01-01" and instants("2026-01-01T00:00:00Z/") == tail
    assert len(instants("../..")) == len(instants(None)) > 600


def test_unit_conversion_is_exact_and_the_stored_unit_is_reported(api, filled_db):
    window = "2025-06-01T00:00:00Z/2025-06-03T00:00:00Z"
    stored = _observations(api, type="daily_mean", datetime=window)
    cms = _observations(api, type="daily_mean", datetime=window, unit="cms")
    assert [r["unit"] for r in stored] == ["cfs"] * 3 and [r["unit"] for r in cms] == ["cms"] * 3
    assert [r["discharge"] for r in cms] == [r["discharge"] * 0.028316846592 for r in stored]
    same = _observations(api, type="daily_mean", datetime=window, unit="cfs")
    assert same == stored

    # EC stores m³/s: unconverted rows say cms, cfs divides by the same factor.
    ec = f"{API}/stations/08MF005/observations"
    instant = filled_db.eccc.datamart_instants()[-1]
    window = f"{_z(instant - timedelta(minutes=10))}/{_z(instant)}"
    as_stored = _observations(api, ec, datetime=window)
    assert [r["observed_at"] for r in as_stored] == [_z(instant - timedelta(minutes=m)) for m in (10, 5, 0)]
    assert [r["discharge"] for r in as_stored] == [
        FakeEccc.value("08MF005", instant - timedelta(minutes=m)) for m in (10, 5, 0)]
    assert {r["unit"] for r in as_stored} == {"cms"} and {r["quality_code"] for r in as_stored} == {"P"}
    cfs = _observations(api, ec, datetime=window, unit="cfs")
    assert [r["discharge"] for r in cfs] == [r["discharge"] / CMS_PER_CFS for r in as_stored]
    assert {r["unit"] for r in cfs} == {"cfs"}
    assert _observations(api, ec, datetime=window, unit="cms") == as_stored


def test_realtime_values_of_two_sources_in_one_station_order(api, filled_db):
    rows = _observations(api, type="realtime_15min", limit=50_000)
    start = filled_db.now.replace(hour=0, minute=0) - timedelta(days=2)  # the configuration's pull_start_date
    expected = filled_db.usgs.continuous_instants(start, filled_db.now)
    assert [r["observed_at"] for r in rows] == [_z(t) for t in expected]
    assert [r["discharge"] for r in rows] == [filled_db.usgs.value("01646500", t.isoformat()) for t in expected]
    both = _observations(api, limit=50_000)  # no type: every series, ordered by (observed_at, type)
    assert len(both) == len(rows) + len(_observations(api, type="daily_mean", limit=50_000))
    keys = [(r["observed_at"], r["type"]) for r in both]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_quality_filter(api, filled_db):
    every = _observations(api, type="daily_mean", limit=50_000)
    approved = _observations(api, type="daily_mean", quality="A", limit=50_000)
    provisional = _observations(api, type="daily_mean", quality="P", limit=50_000)
    assert {r["quality_code"] for r in approved} == {"A"} and {r["quality_code"] for r in provisional} == {"P"}
    assert len(approved) + len(provisional) == len(every)
    year_ago = (filled_db.usgs.until - timedelta(days=365)).date().isoformat()
    assert approved[-1]["observed_at"][:10] < year_ago <= provisional[0]["observed_at"][:10]


def test_csv_and_json_agree(api):
    for params in ({"type": "daily_mean", "unit": "cms"}, {"unit": "cfs"}, {}, {"quality": "P"}):
        body = _observations(api, limit=50_000, **params)
        response = api.get(OBS, params={**params, "limit": 50_000, "f": "csv"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = _csv_rows(response.text)
        assert len(rows) == len(body) > 0
        for j, c in zip(body, rows, strict=True):
            assert c["station_number"] == "01646500"
            assert (c["observed_at"], c["type"], c["unit"], c["quality_code"]) == (
                j["observed_at"], j["type"], j["unit"], j["quality_code"])
            assert float(c["discharge"]) == j["discharge"]


def test_pages_cover_the_result_once_in_json_and_csv(api):
    whole = _observations(api, type="realtime_15min", limit=50_000)
    seen, url, params, pages = [], OBS, {"type": "realtime_15min", "limit": 40}, 0
    while url:
        body = api.get(url, params=params).json()
        seen += body["observations"]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        params, pages = None, pages + 1
    assert seen == whole and pages == -(-len(whole) // 40)
    seen_csv, url, params = [], OBS, {"type": "realtime_15min", "limit": 40, "f": "csv"}
    while url:
        response = api.get(url, params=params)
        seen_csv += _csv_rows(response.text)
        url = response.links.get("next", {}).get("url")
        params = None
    assert [(r["observed_at"], float(r["discharge"])) for r in seen_csv] == [
        (r["observed_at"], r["discharge"]) for r in whole]


# --------------------------------------------------------------------------- paging while rows arrive


def _insert(engine, station: str, rows: list[tuple[datetime, float]], kind: str = "realtime_15min") -> None:
    from streamflow.db import repository as repo
    from streamflow.db.engine import session_scope
    from streamflow.db.models import Station

    frame = pd.DataFrame({"station_number": station, "observed_at": [t for t, _v in rows],
                          "discharge": [v for _t, v in rows], "unit": "cfs", "quality_code": "P", "data_type": kind})
    with session_scope(engine) as s:
        station_id = s.execute(select(Station.id).where(Station.station_number == station)).scalar_one()
        repo.upsert_observations(s, frame, {station: station_id})


def _all_rows(engine) -> list[tuple[str, float]]:
    from streamflow.db.engine import session_scope
    from streamflow.db.models import DischargeObservation as O

    with session_scope(engine) as s:
        return [(_z(t), v) for t, v in s.execute(select(O.observed_at, O.discharge).order_by(O.observed_at))]


@pytest.mark.parametrize("f", ["json", "csv"])
def test_paging_more_than_3_pages_while_rows_arrive(client, tokens, engine, replay, airflow_db, f):
    """Every row that exists when its page is read is returned exactly once, in order: rows that
    arrive ahead of the cursor (a new pull, a late value) show up on a later page; a row that
    arrives behind it is not repeated or half-seen."""
    from streamflow.db import repository as repo
    from streamflow.db.engine import session_scope
    from streamflow.factory import build_dags
    from streamflow.testing.fakes.usgs import FakeUsgs

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fake = FakeUsgs(replay, until=now - timedelta(hours=8))
    with session_scope(engine) as s:
        config_id = repo.create_configuration(
            s, name="paging", data_type="realtime_15min", data_strategy="append",
            pull_start_date=now.replace(hour=0, minute=0) - timedelta(days=2), schedule_type="hourly",
            stations=[{"station_number": "01646500"}]).id

    def pull() -> None:
        with session_scope(engine) as s:
            rows = repo.load_configuration_rows(s)
        assert build_dags(rows)[f"streamflow_config_{config_id}"].test().state == "success"

    pull()
    before = _all_rows(engine)
    assert len(before) > 4 * 25
    headers = bearer(tokens, "viewer")

    def page(url, params):
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        if f == "json":
            body = response.json()
            rows = [(r["observed_at"], r["discharge"]) for r in body["observations"]]
            return rows, next((x["href"] for x in body["links"] if x["rel"] == "next"), None)
        rows = [(r["observed_at"], float(r["discharge"])) for r in _csv_rows(response.text)]
        return rows, response.links.get("next", {}).get("url")

    seen, url = page(OBS, {"type": "realtime_15min", "limit": 25, "f": f})
    behind = datetime.fromisoformat(seen[3][0]) + timedelta(minutes=7)
    ahead = datetime.fromisoformat(before[60][0]) + timedelta(minutes=7)
    _insert(engine, "01646500", [(behind, 1.5), (ahead, 2.5)])  # a late value behind, another ahead
    pages = 1
    while url:
        rows, url = page(url, None)
        seen += rows
        pages += 1
        if pages == 2:
            fake.until = now  # the next scheduled pull lands while the client is paging
            pull()
    after = _all_rows(engine)
    assert len(after) > len(before) + 20  # the pull appended hours of new values
    expected = [r for r in after if r[0] != _z(behind)]
    assert seen == expected  # every row once, in order; the row behind the cursor is not repeated
    assert len(set(seen)) == len(seen) and pages > 3


# --------------------------------------------------------------------------- stations


def _numbers(api, **params) -> list[str]:
    response = api.get(f"{API}/stations", params=params)
    assert response.status_code == 200, response.text
    return [s["station_number"] for s in response.json()["stations"]]


def test_station_search_filters(api):
    assert _numbers(api) == ["01013500", "01638500", "01646500", "08MF005", "09380000"]
    assert _numbers(api, state="md") == ["01638500", "01646500"]
    assert _numbers(api, huc="14") == ["09380000"]
    assert _numbers(api, huc="02", text="little falls") == ["01646500"]
    assert _numbers(api, agency="ec") == ["08MF005"]
    assert _numbers(api, text="0938") == ["09380000"]
    assert _numbers(api, bbox="-78,38,-77,40") == ["01638500", "01646500"]
    assert _numbers(api, bbox="-122,49,-121,50") == ["08MF005"]
    unknown = api.get(f"{API}/stations", params={"state": "ZZ"})
    assert unknown.status_code == 400 and unknown.json()["parameter"] == "state"
    assert "unknown state or province code 'ZZ'" in unknown.json()["detail"]


def test_station_list_pages_and_coverage(api, filled_db):
    seen, url, params = [], f"{API}/stations", {"limit": 2}
    while url:
        body = api.get(url, params=params).json()
        assert body["number_returned"] == len(body["stations"]) <= 2
        seen += body["stations"]
        url = next((x["href"] for x in body["links"] if x["rel"] == "next"), None)
        params = None
    assert [s["station_number"] for s in seen] == ["01013500", "01638500", "01646500", "08MF005", "09380000"]
    potomac = {c["data_type"]: c for c in seen[2]["coverage"]}
    days = filled_db.usgs.daily_keys(date(2025, 1, 1), filled_db.now.date())
    assert potomac["daily_mean"] == {"data_type": "daily_mean", "first": "2025-01-01T00:00:00Z",
                                     "last": f"{days[-1]}T00:00:00Z", "count": len(days)}
    assert potomac["realtime_15min"]["count"] == len(_observations(api, type="realtime_15min", limit=50_000))
    assert seen[1]["coverage"] == [] and seen[1]["name"] == "POTOMAC RIVER AT POINT OF ROCKS, MD"
    forecast = {c["data_type"]: c for c in seen[0]["coverage"]}
    assert forecast["rfc_forecast"] == {"data_type": "rfc_forecast", "first": "2026-11-20T13:42:00Z",
                                        "last": "2026-11-20T13:42:00Z", "count": 1}
    # the gauge's own observations over the forecast's horizon: every 15 minutes, both ends included
    assert forecast["realtime_15min"] == {"data_type": "realtime_15min", "first": "2026-11-17T00:00:00Z",
                                          "last": "2026-11-23T00:00:00Z", "count": 6 * 96 + 1}


def test_station_detail(api):
    body = api.get(f"{API}/stations/01646500").json()
    assert body["name"] == "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA" and body["state"] == "MD"
    assert body["drainage_area_sqmi"] == 11560.0
    assert [(c["name"], c["data_type"], c["dag_id"][:18]) for c in body["configurations"]] == [
        ("api daily", "daily_mean", "streamflow_config_"), ("api realtime", "realtime_15min", "streamflow_config_")]
    assert {link["rel"] for link in body["links"]} == {"self", "observations", "forecasts", "verification"}
    forecast_station = api.get(f"{API}/stations/01013500").json()
    assert forecast_station["mappings"] == [{"target_agency": "NOAA-HADS", "target_id": "FIHM1"}]
    assert [c["name"] for c in forecast_station["configurations"]] == ["api rfc", "api rfc observed"]
    # in the master list, nothing stored: 200 with empty coverage and an empty page of observations
    assert api.get(f"{API}/stations/09380000").json()["coverage"] == []
    assert _observations(api, f"{API}/stations/09380000/observations") == []


# --------------------------------------------------------------------------- forecasts


def _fixture_values() -> list[tuple[str, float]]:
    data = json.loads(fixture_bytes("noaa/stageflow_FIHM1.json"))["forecast"]["data"]
    # kcfs → cfs, the -999 "missing" markers dropped, in time order (the recording is not sorted)
    return sorted((d["validTime"], d["secondary"] * 1000) for d in data if d["secondary"] >= 0)


def test_forecast_runs_latest_and_values(api):
    runs = api.get(f"{API}/stations/01013500/forecasts").json()
    assert runs["number_returned"] == 1
    run = runs["forecasts"][0]
    assert (run["source"], run["data_type"], run["run_date"], run["unit"]) == (
        "NOAA_RFC", "rfc_forecast", "2026-11-20T13:42:00Z", "cfs")
    one = api.get(run["links"][0]["href"]).json()
    latest = api.get(f"{API}/stations/01013500/forecasts/latest", params={"source": "NOAA_RFC"}).json()
    assert one == latest and one["station_number"] == "01013500"
    expected = _fixture_values()
    assert [(v["valid_time"], v["value"]) for v in one["values"]] == expected
    issued = _day("2026-11-20") + timedelta(hours=13, minutes=42)
    assert [v["lead_time_hours"] for v in one["values"]] == [
        (_day(t[:10]) + timedelta(hours=int(t[11:13])) - issued).total_seconds() / 3600 for t, _ in expected]
    cms = api.get(f"{API}/forecasts/{run['id']}", params={"unit": "cms"}).json()
    assert cms["unit"] == "cms" and [v["value"] for v in cms["values"]] == [v * CMS_PER_CFS for _t, v in expected]
    # the issue-time interval filters runs; other sources have none
    assert api.get(f"{API}/stations/01013500/forecasts", params={"datetime": "2026-11-21T00:00:00Z/.."}).json()[
        "forecasts"] == []
    assert api.get(f"{API}/stations/01013500/forecasts", params={"datetime": "2026-11-20T13:42:00Z"}).json()[
        "number_returned"] == 1
    missing = api.get(f"{API}/stations/01013500/forecasts/latest", params={"source": "NOAA_NWM_SHORT_RANGE"})
    assert missing.status_code == 404 and "NOAA_NWM_SHORT_RANGE" in missing.json()["detail"]


# --------------------------------------------------------------------------- bad input, unknown, security


BAD = [
    (OBS, {"datetime": "yesterday"}, 400, "datetime"),
    (OBS, {"datetime": "2024-01-01T00:00:00"}, 400, "datetime"),  # no offset
    (OBS, {"datetime": "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z"}, 400, "datetime"),
    (OBS, {"datetime": "2024-01-01T00:00:00Z/2024-02-01T00:00:00Z/2024-03-01T00:00:00Z"}, 400, "datetime"),
    (OBS, {"datetime": "2024-02-30T00:00:00Z"}, 400, "datetime"),
    (OBS, {"type": "hourly"}, 422, "type"),
    (OBS, {"type": "rfc_forecast"}, 422, "type"),
    (OBS, {"limit": 50_001}, 422, "limit"),
    (OBS, {"limit": 0}, 422, "limit"),
    (OBS, {"limit": "many"}, 422, "limit"),
    (OBS, {"unit": "kcfs"}, 422, "unit"),
    (OBS, {"quality": "Z"}, 422, "quality"),
    (OBS, {"f": "xml"}, 422, "f"),
    (OBS, {"cursor": "not-a-cursor"}, 400, "cursor"),
    (OBS, {"cursor": "eyJrIjpbXX0.AAAA"}, 400, "cursor"),
    (f"{API}/stations", {"bbox": "1,2,3"}, 400, "bbox"),
    (f"{API}/stations", {"bbox": "10,0,0,10"}, 400, "bbox"),
    (f"{API}/stations", {"limit": 1_001}, 422, "limit"),
    (f"{API}/stations", {"huc": "x2"}, 422, "huc"),
    (f"{API}/stations", {"agency": "NOAA"}, 422, "agency"),
    (f"{API}/stations/01013500/forecasts", {"source": "ECMWF"}, 422, "source"),
    (f"{API}/stations/01013500/forecasts", {"datetime": "..x"}, 400, "datetime"),
    (f"{API}/forecasts/abc", {}, 422, "forecast_id"),
    (f"{API}/forecasts/0", {}, 422, "forecast_id"),
    (f"{API}/verification", {}, 422, "station"),
    (f"{API}/verification", {"station": "01013500", "datetime": "2026-11-20"}, 400, "datetime"),
    (f"{API}/verification", {"station": "01013500", "source": "ECMWF"}, 422, "source"),
    (f"{API}/verification", {"station": "01013500", "unit": "kcfs"}, 422, "unit"),
    (f"{API}/verification", {"station": "01013500", "include_partial": "maybe"}, 422, "include_partial"),
    (f"{API}/verification", {"station": "0101 3500"}, 422, "station"),
]


@pytest.mark.parametrize(("url", "params", "status", "parameter"), BAD, ids=[f"{b[3]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_problem_naming_the_parameter(api, url, params, status, parameter):
    response = api.get(url, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["parameter"] == parameter and parameter in body["detail"]
    assert body["type"] == "urn:streamflow:problem:invalid-parameter" and body["title"]


def test_a_cursor_only_continues_its_own_query(api):
    first = api.get(OBS, params={"type": "daily_mean", "limit": 5}).json()
    token = first["links"][1]["href"].split("cursor=")[1]
    assert api.get(OBS, params={"type": "daily_mean", "limit": 7, "cursor": token}).status_code == 200  # limit may change
    other = api.get(OBS, params={"type": "realtime_15min", "limit": 5, "cursor": token})
    assert other.status_code == 400 and other.json()["parameter"] == "cursor"
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert api.get(OBS, params={"type": "daily_mean", "cursor": tampered}).json()["parameter"] == "cursor"


@pytest.mark.parametrize("url", [
    f"{API}/stations/99999999", f"{API}/stations/99999999/observations", f"{API}/stations/99999999/forecasts",
    f"{API}/stations/99999999/forecasts/latest", f"{API}/forecasts/999999", f"{API}/verification?station=99999999",
])
def test_unknown_station_or_forecast_is_404(api, url):
    response = api.get(url)
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404 and response.json()["detail"]


@pytest.mark.parametrize("url", ROUTES)
def test_anonymous_is_refused_everywhere(api, url):
    response = api.get(url, headers={"Authorization": ""})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM


def test_the_ui_cookie_authenticates(api, tokens):
    api.headers.pop("Authorization")
    assert api.get(OBS).status_code == 401
    as_role(api, tokens, "viewer")
    assert api.get(OBS, params={"limit": 1}).json()["number_returned"] == 1


@pytest.mark.parametrize("url", ROUTES[:-1])
def test_no_endpoint_writes(api, tokens, filled_db, url):
    from streamflow.db.engine import get_engine
    from streamflow.db.models import DischargeObservation

    def count() -> int:
        with get_engine(filled_db.url).connect() as conn:
            return conn.execute(select(func.count()).select_from(DischargeObservation)).scalar_one()

    before = count()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = api.request(method, url, headers=bearer(tokens, "admin"))
        assert response.status_code == 405, (method, url, response.status_code)
    assert count() == before


def test_openapi_document_lists_the_routes_with_examples_and_problems(api):
    doc = api.get(f"{API}/openapi.json").json()
    assert set(doc["paths"]) == {
        "/stations", "/stations/{station_number}", "/stations/{station_number}/observations",
        "/stations/{station_number}/forecasts", "/stations/{station_number}/forecasts/latest", "/forecasts/{forecast_id}",
        "/verification",
    }
    observations = doc["paths"]["/stations/{station_number}/observations"]["get"]
    assert set(observations["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    for status in ("400", "401", "404", "422"):
        assert observations["responses"][status]["content"][PROBLEM]["schema"]["$ref"] == "#/components/schemas/Problem"
    params = {p["name"]: p for p in observations["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 50_000 and params["limit"]["schema"]["default"] == 1_000
    assert params["datetime"]["schema"]["examples"]
    assert doc["components"]["schemas"]["ObservationPage"]["examples"]
    assert doc["components"]["schemas"]["Problem"]["examples"]
    assert doc["components"]["schemas"]["VerificationSummary"]["examples"]


# --------------------------------------------------------------------------- verification (issue 13)


def _rfc_scores_by_hand(api) -> tuple[dict, dict[str, dict]]:
    """The RFC run of 01013500 scored from what the API serves, by the documented rule (ADR 0013):
    a 6-hourly value valid at t pairs with the mean of the 15-minute observations in (t − 6 h, t]
    (at least 12 of them); persistence is the last observation at or before the issue time; a lead
    ℓ is in the bin with first < ℓ ≤ last."""
    run = api.get(f"{API}/stations/01013500/forecasts/latest").json()
    issued = datetime.fromisoformat(run["run_date"])
    observed = [(datetime.fromisoformat(o["observed_at"]), o["discharge"]) for o in _observations(
        api, f"{API}/stations/01013500/observations", type="realtime_15min", limit=50_000)]
    persistence = [v for t, v in observed if t <= issued][-1]
    bins = {"0-6h": (0, 6), "6-12h": (6, 12), "12-24h": (12, 24), "24-48h": (24, 48)}
    pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in [*bins, "all"]}
    for value in run["values"]:
        valid = datetime.fromisoformat(value["valid_time"])
        if valid < issued:
            continue  # valid before the issue time: not a forecast
        inside = [v for t, v in observed if valid - timedelta(hours=6) < t <= valid]
        assert len(inside) == 24  # the fake gauge reports every 15 minutes
        lead = (valid - issued).total_seconds() / 3600
        name = next(n for n, (first, last) in bins.items() if first < lead <= last)
        pair = (value["value"], sum(inside) / len(inside))
        pairs[name].append(pair)
        pairs["all"].append(pair)
    scores = {}
    for name, items in pairs.items():
        n = len(items)
        errors = [f - o for f, o in items]
        rmse = (sum(e * e for e in errors) / n) ** 0.5
        ref = (sum((persistence - o) ** 2 for _f, o in items) / n) ** 0.5
        scores[name] = {"n_pairs": n, "rmse": rmse, "mean_error": sum(errors) / n,
                        "mae": sum(abs(e) for e in errors) / n, "persistence_rmse": ref, "skill": 1 - rmse / ref}
    mean = sum(o for _f, o in pairs["all"]) / len(pairs["all"])
    scores["all"]["nse"] = 1 - sum((f - o) ** 2 for f, o in pairs["all"]) / sum((o - mean) ** 2 for _f, o in pairs["all"])
    return run, scores


def test_verification_by_lead_time_checked_by_hand(api):
    run, expected = _rfc_scores_by_hand(api)
    assert [n for n in expected if expected[n]["n_pairs"]] == ["0-6h", "6-12h", "12-24h", "24-48h", "all"]
    assert expected["all"]["n_pairs"] == 5 and expected["24-48h"]["n_pairs"] == 2

    response = api.get(f"{API}/verification", params={"station": "01013500"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["station_number"] == "01013500" and body["include_partial"] is True and body["datetime"] is None
    (source,) = body["sources"]
    assert (source["source"], source["data_type"], source["unit"]) == ("NOAA_RFC", "rfc_forecast", "cfs")
    got = {b["lead_bin"]: b for b in [*source["lead_times"], source["overall"]]}
    assert list(got) == ["0-6h", "6-12h", "12-24h", "24-48h", "all"]
    assert [(b["lead_start_hours"], b["lead_end_hours"]) for b in source["lead_times"]] == [
        (0, 6), (6, 12), (12, 24), (24, 48)]
    for name, want in expected.items():
        assert got[name]["runs"] == 1 and got[name]["runs_complete"] == 1  # observed past 2026-11-22 06:00
        assert got[name]["n_pairs"] == want["n_pairs"]
        for key in ("rmse", "mean_error", "mae", "persistence_rmse", "skill"):
            assert got[name][key] == pytest.approx(want[key], rel=1e-9), (name, key)
    assert got["all"]["nse_mean"] == pytest.approx(expected["all"]["nse"], rel=1e-9)
    assert got["0-6h"]["nse_mean"] is None and got["0-6h"]["kge_mean"] is None  # one pair: undefined

    # the same scores per run, on the forecast itself (its rmse is the whole run's)
    one = api.get(f"{API}/forecasts/{run['id']}").json()
    assert one["rmse"] == pytest.approx(expected["all"]["rmse"], rel=1e-9)
    assert [s["lead_bin"] for s in one["verification"]] == ["0-6h", "6-12h", "12-24h", "24-48h", "all"]
    assert {s["status"] for s in one["verification"]} == {"complete"}
    assert {s["observation_type"] for s in one["verification"]} == {"realtime_15min"}
    assert [s["pairs_dropped"] for s in one["verification"]][-1] == 1  # the value valid before the issue time
    listed = api.get(f"{API}/stations/01013500/forecasts").json()["forecasts"][0]
    assert listed["rmse"] == one["rmse"]

    # cms: the error scores scale by the exact factor, the skill does not change
    cms = api.get(f"{API}/verification", params={"station": "01013500", "unit": "cms"}).json()["sources"][0]
    assert cms["unit"] == "cms"
    for key in ("rmse", "mean_error", "mae", "persistence_rmse"):
        assert cms["overall"][key] == pytest.approx(expected["all"][key] * CMS_PER_CFS, rel=1e-12)
    assert cms["overall"]["skill"] == pytest.approx(got["all"]["skill"], rel=1e-12)  # unit-free
    one_cms = api.get(f"{API}/forecasts/{run['id']}", params={"unit": "cms"}).json()
    assert one_cms["rmse"] == pytest.approx(one["rmse"] * CMS_PER_CFS, rel=1e-12)
    assert one_cms["verification"][-1]["rmse"] == one_cms["rmse"]


def test_verification_filters(api):
    def sources(**params) -> list[str]:
        response = api.get(f"{API}/verification", params={"station": "01013500", **params})
        assert response.status_code == 200, response.text
        return [s["source"] for s in response.json()["sources"]]

    # the issue-time interval: inclusive at both ends
    assert sources(datetime="2026-11-20T13:42:00Z") == ["NOAA_RFC"]
    assert sources(datetime="../2026-11-20T13:42:00Z") == ["NOAA_RFC"]
    assert sources(datetime="2026-11-20T13:43:00Z/..") == []
    assert sources(source="NOAA_RFC") == ["NOAA_RFC"]
    assert sources(source="NOAA_NWM_SHORT_RANGE") == []
    assert sources(include_partial="false") == ["NOAA_RFC"]  # the run is complete
    # a station with observations but no forecasts: nothing verified, not an error
    potomac = api.get(f"{API}/verification", params={"station": "01646500"}).json()
    assert potomac["sources"] == [] and potomac["links"][1]["href"].endswith("/stations/01646500")
