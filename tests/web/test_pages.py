"""The Streamflow pages through Airflow's real app with real JWTs per role (SQLite and PostgreSQL).

Every route: anonymous → 401; a viewer reads every page and is refused (403) every write; a user
and an admin write. Writes need the CSRF proof; bad input gets a message next to its field and
changes no row. The database is filled with the project's own repository functions and reference
data (``streamflow.reference.load_reference``).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select
from streamflow.db import repository as repo
from streamflow.db import verification as ver
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog, PullConfiguration, PullConfigurationStation, PullStationProgress
from streamflow.outcomes import StationOutcome

from tests.web.conftest import BASE_URL, as_role
from tests.web.history import (
    record_run,
    store_daily_means,
    store_forecast,
    store_realtime,
    store_rfc_forecast,
)

POTOMAC_MD = ["01595000", "01595500", "01598500", "01603000", "01610000", "01613000", "01638500", "01646500"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def reference(client):
    """Master stations + station mappings loaded from data/ (as `streamflow db load-reference` does)."""
    from streamflow.reference import load_reference

    with session_scope() as session:
        load_reference(session)


def add_configuration(name: str, stations: list[str], **columns) -> int:
    """A configuration written straight to the database (defaults: daily means, append, daily)."""
    values = {
        "data_type": "daily_mean",
        "data_strategy": "append",
        "schedule_type": "daily",
        "pull_start_date": datetime(2024, 1, 1, tzinfo=UTC),
        **columns,
    }
    with session_scope() as session:
        specs = [{"station_number": n, "station_name": columns.get("station_name")} for n in stations]
        values.pop("station_name", None)
        return repo.create_configuration(session, name=name, stations=specs, **values).id


@pytest.fixture
def config_id(reference) -> int:
    return add_configuration("Potomac daily", ["01646500", "01638500"])


def csrf(client) -> str:
    """The CSRF token as a page hands it to the browser."""
    page = client.get("/streamflow/")
    assert page.status_code == 200, page.text[:300]
    return re.search(r'data-csrf="([0-9a-f]+)"', page.text).group(1)


def post(client, path: str, data: dict | None = None, *, token: str | None = None, origin: str = BASE_URL):
    form = dict(data or {})
    if token is not None:
        form["csrf_token"] = token
    return client.post(path, data=form, headers={"Origin": origin}, follow_redirects=False)


def form_data(**overrides) -> dict:
    data = {
        "name": "Potomac at Little Falls",
        "description": "",
        "data_type": "daily_mean",
        "data_strategy": "append",
        "pull_start_date": "2024-01-01",
        "schedule_type": "daily",
        "schedule_value": "",
        "is_enabled": "on",
        "stations": "01646500\n01638500",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def table_counts() -> tuple[int, int, int, int]:
    with session_scope() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (PullConfiguration, PullConfigurationStation, PullStationProgress, DataPullLog)
        )


def config_row(config_id: int) -> dict:
    with session_scope() as session:
        (row,) = repo.load_configuration_rows(session, config_id)
        return row


# --------------------------------------------------------------------------- who may do what


READ_ROUTES = [
    "/streamflow/",
    "/streamflow/health",
    "/streamflow/configurations/new",
    "/streamflow/configurations/{id}",
    "/streamflow/configurations/{id}/edit",
    "/streamflow/configurations/{id}/delete",
    "/streamflow/configurations/{id}/hydrograph?station=01646500",
    "/streamflow/stations/search?state=MD",
    "/streamflow/static/streamflow.js",
    "/streamflow/static/vendor/uplot/uPlot.iife.min.js",
]


def write_routes(config_id: int) -> list[tuple[str, dict]]:
    return [
        ("/streamflow/configurations", form_data(name="made by a write test")),
        (f"/streamflow/configurations/{config_id}", form_data(name="renamed by a write test")),
        (f"/streamflow/configurations/{config_id}/enabled", {"enabled": "false"}),
        (f"/streamflow/configurations/{config_id}/clone", {}),
        (f"/streamflow/configurations/{config_id}/delete", {"confirm": "delete"}),
    ]


@pytest.mark.parametrize("route", READ_ROUTES)
def test_every_page_refuses_anonymous_and_serves_a_viewer(client, tokens, config_id, route):
    path = route.format(id=config_id)
    assert client.get(path).status_code == 401
    as_role(client, tokens, "viewer")
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:300])


def test_every_write_refuses_anonymous_and_viewer(client, tokens, config_id):
    before = table_counts()
    for path, data in write_routes(config_id):
        client.cookies.clear()
        assert post(client, path, data, token="0" * 64).status_code == 401, path
        as_role(client, tokens, "viewer")
        response = post(client, path, data, token=csrf(client))
        assert response.status_code == 403, (path, response.status_code)
    assert table_counts() == before
    assert config_row(config_id)["name"] == "Potomac daily"


@pytest.mark.parametrize("role", ["user", "admin"])
def test_every_write_succeeds_for_an_editor(client, tokens, config_id, role):
    as_role(client, tokens, role)
    token = csrf(client)
    locations = []
    for path, data in write_routes(config_id):
        response = post(client, path, data, token=token)
        assert response.status_code == 303, (path, response.status_code, response.text[:500])
        locations.append(response.headers["location"])
    assert locations[0].startswith("/streamflow/configurations/") and "reparse=1" in locations[0]
    assert locations[2] == f"/streamflow/configurations/{config_id}?done=disabled&reparse=1"
    assert locations[3].endswith("/edit?done=cloned")
    assert locations[4] == f"/streamflow/?done=deleted&reparse=streamflow_config_{config_id}"
    with session_scope() as session:
        names = sorted(c.name for c in repo.list_configurations(session))
        assert repo.get_configuration(session, config_id) is None  # deleted last
    assert names == ["Copy of renamed by a write test", "made by a write test"]


def test_cross_site_posts_are_refused(client, tokens, config_id):
    as_role(client, tokens, "admin")
    token = csrf(client)
    path = f"/streamflow/configurations/{config_id}/enabled"
    assert (
        post(client, path, {"enabled": "false"}, token=token, origin="http://evil.example").status_code == 403
    )
    assert post(client, path, {"enabled": "false"}).status_code == 403  # no token
    assert post(client, path, {"enabled": "false"}, token="f" * 64).status_code == 403
    assert config_row(config_id)["is_enabled"] is True
    assert post(client, path, {"enabled": "false"}, token=token).status_code == 303
    assert config_row(config_id)["is_enabled"] is False


def test_a_viewer_sees_no_edit_controls(client, tokens, config_id):
    as_role(client, tokens, "viewer")
    page = client.get(f"/streamflow/configurations/{config_id}").text
    assert "Disable</button>" not in page and "New configuration" not in page
    as_role(client, tokens, "user")
    page = client.get(f"/streamflow/configurations/{config_id}").text
    assert "Disable</button>" in page and "+ New configuration" in page


# --------------------------------------------------------------------------- create / edit


def _field_errors(html: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key, message in re.findall(r'<p class="field-error" id="error-([a-z_]+)">(.*?)</p>', html, re.DOTALL):
        errors.setdefault(key, []).append(unescape(message))
    return errors


def test_create_saves_the_configuration_and_its_stations(client, tokens, reference):
    as_role(client, tokens, "user")
    response = post(
        client,
        "/streamflow/configurations",
        form_data(schedule_type="cron", schedule_value="15 */6 * * *"),
        token=csrf(client),
    )
    assert response.status_code == 303
    new_id = int(re.search(r"/configurations/(\d+)\?", response.headers["location"]).group(1))
    row = config_row(new_id)
    assert row["name"] == "Potomac at Little Falls"
    assert (row["data_type"], row["data_strategy"], row["schedule_type"], row["schedule_value"]) == (
        "daily_mean",
        "append",
        "cron",
        "15 */6 * * *",
    )
    assert row["pull_start_date"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert [s["station_number"] for s in row["stations"]] == ["01646500", "01638500"]
    assert row["stations"][0]["station_name"] == "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA"
    detail = client.get(response.headers["location"])
    assert f'id="reparse" data-dag-id="streamflow_config_{new_id}"' in detail.text
    assert "Configuration created." in detail.text


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"name": ""}, "name", "name is empty"),
        ({"name": "x" * 101}, "name", "longer than 100"),
        ({"data_type": "hourly_mean"}, "data_type", "'hourly_mean' is not one of"),
        ({"data_strategy": "merge"}, "data_strategy", "'merge' is not one of"),
        ({"pull_start_date": "01/02/2024"}, "pull_start_date", "'01/02/2024' is not a date"),
        ({"pull_start_date": "2999-01-01"}, "pull_start_date", "in the future"),
        ({"schedule_type": "cron", "schedule_value": ""}, "schedule", "needs a schedule_value"),
        ({"schedule_type": "cron", "schedule_value": "61 * * * *"}, "schedule", "not a valid cron"),
        ({"schedule_type": "manual", "schedule_value": "0 * * * *"}, "schedule", "a manual configuration"),
        ({"stations": ""}, "stations", "no stations"),
        ({"stations": "01646500 99999999"}, "stations", "not in the master station list: 99999999"),
        ({"data_type": "rfc_forecast", "stations": "01491500"}, "stations", "have no NOAA mapping"),
    ],
)
def test_bad_input_gets_a_message_at_its_field_and_writes_nothing(
    client, tokens, config_id, overrides, field, words
):
    as_role(client, tokens, "admin")
    token = csrf(client)
    before, row_before = table_counts(), config_row(config_id)
    for path in ("/streamflow/configurations", f"/streamflow/configurations/{config_id}"):
        response = post(client, path, form_data(**overrides), token=token)
        assert response.status_code == 422, (path, response.text[:300])
        errors = _field_errors(response.text)
        assert any(words in m for m in errors.get(field, [])), errors
        assert "Nothing was saved" in response.text
        # The form comes back as typed.
        if overrides.get("name"):
            assert f'value="{overrides["name"]}"' in response.text
    assert table_counts() == before
    assert config_row(config_id) == row_before


def test_every_error_is_listed_at_once(client, tokens, reference):
    as_role(client, tokens, "user")
    response = post(
        client,
        "/streamflow/configurations",
        form_data(name="", data_type="nope", pull_start_date="soon", stations=""),
        token=csrf(client),
    )
    assert response.status_code == 422
    assert set(_field_errors(response.text)) == {"name", "data_type", "pull_start_date", "stations"}


def test_forecast_stations_without_mapping_can_be_allowed_explicitly(client, tokens, reference):
    as_role(client, tokens, "user")
    data = form_data(data_type="rfc_forecast", stations="01646500\n01491500", allow_unmapped="on")
    response = post(client, "/streamflow/configurations", data, token=csrf(client))
    assert response.status_code == 303, _field_errors(response.text)
    new_id = int(re.search(r"/configurations/(\d+)\?", response.headers["location"]).group(1))
    page = client.get(f"/streamflow/configurations/{new_id}").text
    assert 'title="no NOAA-HADS id in station_mappings: forecast pulls skip it">none' in page


def test_edit_changes_fields_and_stations(client, tokens, config_id):
    as_role(client, tokens, "user")
    form = client.get(f"/streamflow/configurations/{config_id}/edit").text
    assert 'value="Potomac daily"' in form and "01646500\n01638500" in form
    data = form_data(
        name="Potomac, renamed", stations="01638500\n01613000", is_enabled=None, data_strategy="overwrite"
    )
    assert (
        post(client, f"/streamflow/configurations/{config_id}", data, token=csrf(client)).status_code == 303
    )
    row = config_row(config_id)
    assert (row["name"], row["is_enabled"], row["data_strategy"]) == ("Potomac, renamed", False, "overwrite")
    assert [s["station_number"] for s in row["stations"]] == ["01638500", "01613000"]
    assert row["stations"][1]["station_name"] == "POTOMAC RIVER AT HANCOCK, MD"


def test_delete_needs_the_confirmation_step(client, tokens, config_id):
    as_role(client, tokens, "user")
    page = client.get(f"/streamflow/configurations/{config_id}/delete").text
    assert f"Yes, delete configuration #{config_id}" in page and "Kept: every observation" in page
    token = csrf(client)
    assert post(client, f"/streamflow/configurations/{config_id}/delete", {}, token=token).status_code == 422
    assert config_row(config_id)["name"] == "Potomac daily"
    assert (
        post(
            client, f"/streamflow/configurations/{config_id}/delete", {"confirm": "delete"}, token=token
        ).status_code
        == 303
    )
    assert client.get(f"/streamflow/configurations/{config_id}").status_code == 404


def test_clone_is_a_disabled_copy(client, tokens, config_id):
    as_role(client, tokens, "user")
    response = post(client, f"/streamflow/configurations/{config_id}/clone", token=csrf(client))
    clone_id = int(re.search(r"/configurations/(\d+)/edit", response.headers["location"]).group(1))
    row = config_row(clone_id)
    assert row["name"] == "Copy of Potomac daily" and row["is_enabled"] is False
    assert [s["station_number"] for s in row["stations"]] == ["01646500", "01638500"]
    assert "This is a copy (disabled)" in client.get(response.headers["location"]).text


def test_unknown_configuration_is_404_for_reads_and_writes(client, tokens, reference):
    as_role(client, tokens, "admin")
    assert client.get("/streamflow/configurations/9999").status_code == 404
    assert (
        post(
            client, "/streamflow/configurations/9999/enabled", {"enabled": "true"}, token=csrf(client)
        ).status_code
        == 404
    )


# --------------------------------------------------------------------------- escaping


def test_markup_in_names_renders_as_text(client, tokens, reference):
    evil = "<script>alert(1)</script>"
    config_id = add_configuration(evil, ["01646500"], description=f"desc {evil}", station_name=evil)
    as_role(client, tokens, "viewer")
    for path in (
        "/streamflow/",
        f"/streamflow/configurations/{config_id}",
        f"/streamflow/configurations/{config_id}/delete",
    ):
        page = client.get(path).text
        assert evil not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
    form = client.get(f"/streamflow/configurations/{config_id}/edit").text
    data = form.split('id="picker-data">')[1].split("</script>")[0]
    assert "<" not in data  # the JSON island escapes < so a name cannot close the script element


# --------------------------------------------------------------------------- station search


def test_station_search_filters_pages_and_flags_mappings(client, tokens, reference):
    as_role(client, tokens, "viewer")
    body = client.get(
        "/streamflow/stations/search",
        params={"state": "md", "huc": "02", "text": "potomac", "data_type": "rfc_forecast"},
    ).json()
    numbers = [r["station_number"] for r in body["results"]]
    assert body["total"] == 8 and body["forecast"] is True
    assert numbers == POTOMAC_MD  # ordered by number
    little_falls = next(r for r in body["results"] if r["station_number"] == "01646500")
    assert little_falls == {
        "station_number": "01646500",
        "station_name": "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA",
        "agency": "USGS",
        "state": "MD",
        "huc": "02070008",
        "drainage_area_sqmi": 11560.0,
        "noaa_mapped": True,
        "known": True,
    }
    assert all(r["noaa_mapped"] for r in body["results"])
    tuckahoe = client.get(
        "/streamflow/stations/search", params={"text": "tuckahoe creek near ruthsburg"}
    ).json()
    assert [(r["station_number"], r["noaa_mapped"]) for r in tuckahoe["results"]] == [("01491500", False)]
    second = client.get(
        "/streamflow/stations/search",
        params={"state": "MD", "huc": "02", "text": "potomac", "offset": 5, "limit": 5},
    ).json()
    assert [r["station_number"] for r in second["results"]] == numbers[5:8] and second["total"] == 8


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"huc": "2"}, "huc"),
        ({"huc": "0207"}, "huc"),
        ({"state": "ZZ"}, "state"),
        ({"agency": "NOAA"}, "agency"),
        ({"limit": "501"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_station_search_refuses_bad_filters_by_name(client, tokens, reference, params, field):
    as_role(client, tokens, "viewer")
    response = client.get("/streamflow/stations/search", params=params)
    assert response.status_code == 422
    assert field in response.json()["errors"]


# --------------------------------------------------------------------------- detail, hydrograph, health


@pytest.fixture
def pulled(config_id):
    """What two runs of the configuration left behind: progress, logs with details, rows, a forecast."""
    now = datetime.now(UTC).replace(microsecond=0)
    days = [datetime(2024, 3, d, tzinfo=UTC) for d in range(1, 6)]
    with session_scope() as session:
        store_daily_means(session, "01646500", days, [100.0, 110.0, 120.0, 130.0, 140.0])
        repo.ensure_station(session, "01638500", "USGS")
        forecast = [(datetime(2024, 3, 6, tzinfo=UTC), 4.0), (datetime(2024, 3, 7, tzinfo=UTC), 5.0)]
        store_rfc_forecast(session, "01646500", datetime(2024, 3, 5, 12, tzinfo=UTC), "cms", forecast)
        repo.advance_progress(session, config_id, "01646500", days[-1])
        window = "2024-03-01/2024-03-05"
        record_run(
            session,
            config_id,
            "scheduled__2024-03-05T00:00:00+00:00",
            now - timedelta(hours=30),
            [
                StationOutcome("01646500", "usgs", "success", window=window, rows_fetched=5, rows_written=5),
                StationOutcome("01638500", "usgs", "nothing"),
            ],
        )
        record_run(
            session,
            config_id,
            "manual__2024-03-06T00:00:00+00:00",
            now - timedelta(hours=2),
            [
                StationOutcome("01646500", "usgs", "nothing"),
                StationOutcome(
                    "01638500", "usgs", "failed", message="usgs: station 01638500: HTTP 503 <b>down</b>"
                ),
            ],
        )
    return config_id


def test_detail_page_shows_progress_runs_and_rows(client, tokens, pulled):
    as_role(client, tokens, "viewer")
    page = client.get(f"/streamflow/configurations/{pulled}").text
    progress = page.split('id="station-progress"')[1].split("</table>")[0]
    assert "2024-03-05 00:00 UTC" in progress and ">5</td>" in progress  # progress + 5 daily_mean rows
    assert "usgs: station 01638500: HTTP 503 &lt;b&gt;down&lt;/b&gt;" in progress
    runs = page.split('id="runs"')[1]
    assert runs.index("manual__2024-03-06") < runs.index("scheduled__2024-03-05")  # newest first
    assert "Per-station details (2)" in runs and "1 / 2" in runs
    run = "manual__2024-03-06T00%3A00%3A00%2B00%3A00"
    log_link = f"/dags/streamflow_config_{pulled}/runs/{run}/tasks/pull_usgs/mapped"
    assert log_link in page


def test_hydrograph_returns_observed_and_the_latest_forecast_in_cfs(client, tokens, pulled):
    as_role(client, tokens, "viewer")
    body = client.get(
        f"/streamflow/configurations/{pulled}/hydrograph", params={"station": "01646500"}
    ).json()
    assert body["type"] == "daily_mean" and body["unit"] == "cfs" and body["truncated"] is False
    assert [v for _, v in body["observed"]] == [100.0, 110.0, 120.0, 130.0, 140.0]
    assert body["observed"][0][0] == "2024-03-01T00:00:00+00:00"
    (forecast,) = body["forecasts"]
    assert forecast["source"] == "NOAA_RFC" and forecast["issued"] == "2024-03-05T12:00:00+00:00"
    assert forecast["points"] == [
        ["2024-03-06T00:00:00Z", pytest.approx(4.0 * 35.31466672148859)],
        ["2024-03-07T00:00:00Z", pytest.approx(5.0 * 35.31466672148859)],
    ]
    narrow = client.get(
        f"/streamflow/configurations/{pulled}/hydrograph",
        params={"station": "01646500", "start": "2024-03-02", "end": "2024-03-03"},
    ).json()
    assert [v for _, v in narrow["observed"]] == [110.0, 120.0]
    assert (
        client.get(
            f"/streamflow/configurations/{pulled}/hydrograph", params={"station": "01491500"}
        ).status_code
        == 404
    )
    bad = client.get(
        f"/streamflow/configurations/{pulled}/hydrograph", params={"station": "01646500", "start": "x"}
    )
    assert bad.status_code == 422 and "start" in bad.json()["errors"]


def test_health_lists_failing_stale_and_failed(client, tokens, pulled):
    as_role(client, tokens, "viewer")
    page = client.get("/streamflow/health").text
    failing = page.split('id="failing"')[1].split("</section>")[0]
    assert (
        "01638500" in failing and "HTTP 503 &lt;b&gt;down&lt;/b&gt;" in failing and "01646500" not in failing
    )
    assert f'href="/streamflow/configurations/{pulled}"' in failing and "/tasks/pull_usgs/mapped" in failing
    stale = page.split('id="stale"')[1].split("</section>")[0]
    # daily schedule × 3: 01646500's last data (2024-03-05) is long ago; 01638500 never had any, but its
    # configuration was created today, so it cannot be late yet.
    assert "01646500" in stale and "01638500" not in stale and "<td>24 h</td><td>3 d</td>" in stale
    failed = page.split('id="failed"')[1].split("</section>")[0]
    assert "manual__2024-03-06" in failed and "scheduled__2024-03-05" not in failed
    # A large multiple is configurable and validated.
    assert (
        client.get("/streamflow/health", params={"stale_daily_mean": "abc"}).text.count("give a number") == 1
    )


def test_configurations_list_columns_and_filters(client, tokens, pulled):
    other_id = add_configuration(
        "Forecasts", ["01646500"], data_type="rfc_forecast", schedule_type="hourly", is_enabled=False
    )
    broken_id = add_configuration(
        "Broken cron", ["01646500"], schedule_type="cron", schedule_value="not cron"
    )
    as_role(client, tokens, "viewer")
    page = client.get("/streamflow/").text
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert len(rows) == 3
    first = rows[0]
    for text in (
        "Potomac daily",
        "daily_mean",
        "append",
        ">2</td>",
        "@daily",
        "enabled",
        "failed",
        ">5</td>",
        f"streamflow_config_{pulled}",
    ):
        assert text in first, text
    assert "schedule_value &#39;not cron&#39; is not a valid cron expression" in rows[2]
    assert "disabled" in rows[1] and "rfc_forecast" in rows[1]
    assert "1 station(s) failing now" in page
    only = lambda **p: re.findall(
        r'href="/streamflow/configurations/(\d+)" class="clip"', client.get("/streamflow/", params=p).text
    )
    assert only(enabled="no") == [str(other_id)]
    assert only(data_type="rfc_forecast") == [str(other_id)]
    assert only(q="broken") == [str(broken_id)]
    assert only(q="nothing like this") == []


def test_a_200_station_configuration_renders(client, tokens, reference):
    from streamflow.db.stations import search_master_stations

    with session_scope() as session:
        numbers = [s.station_number for s in search_master_stations(session, agency="USGS", limit=200)]
    config_id = add_configuration("Two hundred", numbers)
    as_role(client, tokens, "user")
    page = client.get(f"/streamflow/configurations/{config_id}").text
    assert page.split('id="station-progress"')[1].count("<tr>") == 201  # header + 200
    form = client.get(f"/streamflow/configurations/{config_id}/edit").text
    assert form.count('"station_number"') == 200
    response = post(
        client,
        f"/streamflow/configurations/{config_id}",
        form_data(name="Two hundred", stations="\n".join(numbers)),
        token=csrf(client),
    )
    assert response.status_code == 303
    assert len(config_row(config_id)["stations"]) == 200


# --------------------------------------------------------------------------- forecast skill

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
SHORT_RANGE = "NOAA_NWM_SHORT_RANGE"


class _Tables(HTMLParser):
    """The text of each cell of the table with id ``table_id``, row by row (header row first)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows, self.cell = table_id, 0, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_cells(html: str, table_id: str) -> list[list[str]]:
    parser = _Tables(table_id)
    parser.feed(html)
    assert parser.rows, f"no table {table_id!r} in the page"
    return parser.rows


def skill_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="skill-data">(.*?)</script>', html, re.DOTALL)
    assert found, "no embedded skill data"
    return json.loads(found.group(1))


def skill_section(html: str) -> str:
    return html.split('<section class="card" id="skill">')[1].split("</section>")[0]


def skill_errors(html: str) -> dict[str, str]:
    found = re.findall(r'<span class="field-error" id="error-(skill_[a-z]+)">(.*?)</span>', html, re.DOTALL)
    return {key: unescape(message) for key, message in found}


@pytest.fixture
def verified(reference):
    """An NWM short-range configuration of 01638500 (nothing stored) and 01646500, whose gauge is
    observed hourly (100 + h cfs at T0 + h, h = −1 … 12, none at h = 9) with two verified runs:

    * run 1, issued T0, leads 1–12 h: forecast − observed = +2 on leads 1–6, −4 on leads 7–12
      (complete: the observations reach its last valid time);
    * run 2, issued T0 + 6 h, leads 1–12 h: +3 everywhere, observed only at leads 1, 2, 4, 5, 6
      (partial: its horizon runs past the last observation).

    Persistence is the observation at the issue time: 100 for run 1, 106 for run 2.
    """
    config_id = add_configuration(
        "Potomac short range", ["01638500", "01646500"], data_type="nwm_short_range", schedule_type="hourly"
    )
    hours = [h for h in range(-1, 13) if h != 9]
    with session_scope() as session:
        store_realtime(session, "01646500", [T0 + h * HOUR for h in hours], [100.0 + h for h in hours])
        run1 = [(T0 + h * HOUR, 100.0 + h + (2.0 if h <= 6 else -4.0)) for h in range(1, 13)]
        store_forecast(session, "01646500", SHORT_RANGE, "nwm_short_range", T0, "cfs", run1)
        run2 = [(T0 + (6 + k) * HOUR, 100.0 + 6 + k + 3.0) for k in range(1, 13)]
        store_forecast(session, "01646500", SHORT_RANGE, "nwm_short_range", T0 + 6 * HOUR, "cfs", run2)
    with session_scope() as session:
        result = ver.verify_range(session, ["01646500"], T0 - 2 * HOUR, T0 + 12 * HOUR)
    assert (result.complete, result.partial, result.failed) == (1, 1, [])
    return config_id


HEADER = ["Lead time", "Runs", "Pairs", "RMSE", "Mean error", "MAE", "Persistence RMSE", "Skill", "NSE", "KGE"]
# By hand. 0–6 h: run 1's six pairs (errors +2; observed 101–106, persistence errors 1–6) and run 2's
# five (errors +3; observed 107, 108, 110, 111, 112, persistence errors 1, 2, 4, 5, 6):
#   RMSE √((6·4 + 5·9)/11) = √(69/11) = 2.505; mean error (12 + 15)/11 = 2.455 = MAE;
#   persistence √((91 + 82)/11) = 3.966; skill 1 − 2.505/3.966 = 0.368;
#   NSE: run 1 1 − 24/17.5 = −0.371, run 2 1 − 45/17.2 = −1.616, mean −0.994;
#   KGE (r = 1, σ ratio 1): run 1 1 − |105.5/103.5 − 1| = 0.981, run 2 1 − |112.6/109.6 − 1| = 0.973, mean 0.977.
# 6–12 h: run 1 only, leads 7, 8, 10, 11, 12 (errors −4; persistence errors 7, 8, 10, 11, 12):
#   RMSE 4, mean error −4, MAE 4; persistence √(478/5) = 9.778; skill 1 − 4/9.778 = 0.591;
#   NSE 1 − 80/17.2 = −3.651; KGE 1 − |105.6/109.6 − 1| = 0.964.
# All leads: 16 pairs; RMSE √((24 + 80 + 45)/16) = 3.052; mean error (12 − 20 + 15)/16 = 0.4375;
#   MAE 47/16 = 2.9375; persistence √((91 + 478 + 82)/16) = 6.379; skill 1 − 3.052/6.379 = 0.522;
#   NSE and KGE: the mean of run 1's (over its 11 pairs, _nse/_kge below) and run 2's.
ROW_0_6 = ["0–6 h", "1 / 2", "11", "2.50", "+2.45", "2.45", "3.97", "0.37", "−0.99", "0.98"]
ROW_6_12 = ["6–12 h", "1 / 1", "5", "4.00", "−4.00", "4.00", "9.78", "0.59", "−3.65", "0.96"]


def _nse(forecast: list[float], observed: list[float]) -> float:
    mean = sum(observed) / len(observed)
    return 1 - sum((f - o) ** 2 for f, o in zip(forecast, observed)) / sum((o - mean) ** 2 for o in observed)


def _kge(forecast: list[float], observed: list[float]) -> float:
    n = len(observed)
    mf, mo = sum(forecast) / n, sum(observed) / n
    sf = math.sqrt(sum((f - mf) ** 2 for f in forecast))
    so = math.sqrt(sum((o - mo) ** 2 for o in observed))
    r = sum((f - mf) * (o - mo) for f, o in zip(forecast, observed)) / (sf * so)
    return 1 - math.sqrt((r - 1) ** 2 + (sf / so - 1) ** 2 + (mf / mo - 1) ** 2)


def _whole_run_efficiencies() -> tuple[str, str]:
    leads = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    observed1 = [100.0 + h for h in leads]
    forecast1 = [o + (2 if h <= 6 else -4) for h, o in zip(leads, observed1)]
    observed2 = [107.0, 108.0, 110.0, 111.0, 112.0]
    forecast2 = [o + 3 for o in observed2]
    nse = (_nse(forecast1, observed1) + _nse(forecast2, observed2)) / 2
    kge = (_kge(forecast1, observed1) + _kge(forecast2, observed2)) / 2
    assert (round(nse, 3), round(kge, 3)) == (-0.690, 0.645)
    return "−0.69", "0.64"


def test_skill_card_shows_scores_by_lead_time(client, tokens, verified):
    as_role(client, tokens, "viewer")  # a read-only page: a viewer sees it all
    response = client.get(f"/streamflow/configurations/{verified}")
    assert response.status_code == 200
    page = response.text
    # after the hydrograph card, before the stations
    assert page.index("<h2>Hydrograph</h2>") < page.index('id="skill"') < page.index("<h2>Stations")
    card = skill_section(page)
    assert "Forecast skill" in card and SHORT_RANGE in card
    # the default station is the first with verified runs
    assert '<option value="01646500" selected>' in card and '<option value="01638500">' in card
    assert "(2 verified runs)" in card and "(none verified)" in card
    assert 'action="/streamflow/configurations/%d#skill"' % verified in card
    nse, kge = _whole_run_efficiencies()
    assert table_cells(page, "skill-table") == [
        HEADER,
        ROW_0_6,
        ROW_6_12,
        ["all leads", "1 / 2", "16", "3.05", "+0.44", "2.94", "6.38", "0.52", nse, kge],
    ]
    assert '<tr class="whole-run"' in card  # the whole-run row is set apart, and last
    assert card.index('data-bin="6-12h"') < card.index('data-bin="all"')
    for title in ("forecast − observed", "1 − RMSE / persistence RMSE", "the last observation before the issue time"):
        assert title in unescape(card), title
    caption = " ".join(unescape(card.split('id="skill-caption">')[1].split("</p>")[0]).split())
    assert caption.startswith(f"01646500: 2 {SHORT_RANGE} runs, any issue time (1 complete, 1 partial).")
    assert "Partial runs, whose horizon is not fully observed yet, are included" in caption
    data = skill_data(page)
    assert data == {
        "station": "01646500",
        "source": SHORT_RANGE,
        "unit": "cfs",
        "bins": ["0-6h", "6-12h"],
        "labels": ["0–6 h", "6–12 h"],
        "rmse": [pytest.approx(math.sqrt(69 / 11)), pytest.approx(4.0)],
        "persistence_rmse": [pytest.approx(math.sqrt(173 / 11)), pytest.approx(math.sqrt(478 / 5))],
    }
    assert 'id="skill-chart"' in card and 'id="skill-empty"' not in card


def test_skill_card_period_filters_runs_by_issue_time(client, tokens, verified):
    as_role(client, tokens, "viewer")
    path = f"/streamflow/configurations/{verified}"
    # a whole day includes its last hours: both runs (issued 12:00 and 18:00)
    page = client.get(path, params={"skill_from": "2026-06-01", "skill_to": "2026-06-01"}).text
    rows = table_cells(page, "skill-table")
    assert rows[1:3] == [ROW_0_6, ROW_6_12]
    assert "issued 2026-06-01 to 2026-06-01 UTC" in skill_section(page)
    # from an instant: run 2 only (persistence 106: errors 1, 2, 4, 5, 6; forecast errors +3)
    page = client.get(path, params={"skill_from": "2026-06-01T15:00Z"}).text
    only_second = ["0 / 1", "5", "3.00", "+3.00", "3.00", "4.05", "0.26", "−1.62", "0.97"]
    assert table_cells(page, "skill-table")[1:] == [["0–6 h", *only_second], ["all leads", *only_second]]
    assert skill_data(page)["bins"] == ["0-6h"]
    assert "issued from 2026-06-01 15:00 UTC" in skill_section(page)
    # periods without any run: the empty state, which says runs exist at other times
    for params in ({"skill_from": "2026-06-02"}, {"skill_to": "2026-05-31"}):
        response = client.get(path, params=params)
        assert response.status_code == 200
        card = skill_section(response.text)
        assert 'id="skill-empty"' in card and 'id="skill-table"' not in card and 'id="skill-data"' not in card
        assert "No verified NOAA_NWM_SHORT_RANGE runs for 01646500" in card
        assert "It has 2 verified runs at other times" in card
        assert f'href="/streamflow/configurations/{verified}?skill_station=01646500#skill">show all runs' in card


def test_skill_card_station_without_verified_runs_says_what_to_do(client, tokens, verified):
    as_role(client, tokens, "viewer")
    page = client.get(f"/streamflow/configurations/{verified}", params={"skill_station": "01638500"}).text
    card = skill_section(page)
    assert '<option value="01638500" selected>' in card
    empty = " ".join(unescape(card.split('id="skill-empty">')[1].split("</p>")[0]).split())
    assert empty.startswith("No verified NOAA_NWM_SHORT_RANGE runs for 01638500, any issue time, yet.")
    assert "Verification runs when observation pulls land data covering a forecast's horizon" in empty
    assert "streamflow_verification" in empty and "trigger it by hand" in empty
    assert 'href="/dags/streamflow_verification"' in card


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"skill_from": "2026-13-01"}, "skill_from", "Issued from: '2026-13-01' is not a date"),
        ({"skill_to": "soon"}, "skill_to", "Issued to: 'soon' is not a date"),
        ({"skill_from": "2026-06-03", "skill_to": "2026-06-01"}, "skill_from", "2026-06-03 is after issued to"),
        ({"skill_station": "99999999"}, "skill_station", "'99999999' is not a station of this configuration"),
        ({"skill_station": "<b>x</b>"}, "skill_station", "'<b>x</b>' is not a station of this configuration"),
    ],
)
def test_skill_card_bad_form_values_get_a_message_at_their_field(client, tokens, verified, params, field, words):
    as_role(client, tokens, "viewer")
    plain = client.get(f"/streamflow/configurations/{verified}").text
    response = client.get(f"/streamflow/configurations/{verified}", params=params)
    assert response.status_code == 200
    page = response.text
    errors = skill_errors(page)
    assert list(errors) == [field] and words in errors[field], errors
    assert "<b>x</b>" not in page  # shown as text
    card = skill_section(page)
    assert 'id="skill-table"' not in card and 'id="skill-data"' not in card and "No scores shown" in card
    # the rest of the page is the one without the form values
    assert page.split('<section class="card" id="skill">')[0] == plain.split('<section class="card" id="skill">')[0]
    assert page.split("</section>", 3)[-1] == plain.split("</section>", 3)[-1]


def test_skill_card_only_on_forecast_configurations(client, tokens, verified, config_id):
    as_role(client, tokens, "viewer")
    page = client.get(f"/streamflow/configurations/{config_id}", params={"skill_station": "01646500"}).text
    assert "Forecast skill" not in page and 'id="skill' not in page
    empty = add_configuration("RFC, no stations yet", [], data_type="rfc_forecast")
    card = skill_section(client.get(f"/streamflow/configurations/{empty}").text)
    assert "NOAA_RFC" in card and "This configuration has no stations" in card and "<form" not in card


def test_skill_card_needs_a_signed_in_user(client, tokens, verified):
    path = f"/streamflow/configurations/{verified}?skill_station=01646500&skill_from=2026-06-01"
    assert client.get(path).status_code == 401
    as_role(client, tokens, "viewer")
    assert 'id="skill-table"' in client.get(path).text
