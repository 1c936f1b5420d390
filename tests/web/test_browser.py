"""A real browser against a real Airflow: the Streamflow pages as a data ops person uses them.

Playwright (PyPI) drives Debian's chromium (never `playwright install`) against `airflow
api-server` + `dag-processor` + `scheduler` started here on SQLite and loopback ports (the helpers
of tests/deploy/test_airflow_e2e.py). The test logs in through Airflow's login page, opens
Streamflow from Airflow's navigation, searches stations, creates a configuration from the results,
sees its DAG in Airflow's DAG list, opens its detail page, disables it and sees the DAG's disabled
state. A second test opens a forecast configuration whose runs were verified and checks its forecast
skill card (table, chart, period form). Screenshots of each page go to ``$STREAMFLOW_ARTIFACTS``
(default ``.artifacts/browser``); those in docs/img are copies of them.

Outside CI the test skips when chromium is missing; with CI=true it must run
(``.ci/run`` installs chromium with apt-get).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from streamflow.testing.replay import ReplayServer

from tests.deploy.test_airflow_e2e import (
    ADMIN,
    BIN,
    REPO,
    START_TIMEOUT,
    AirflowStack,
    _environment,
    _free_port,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("STREAMFLOW_ARTIFACTS") or REPO / ".artifacts" / "browser")
REPARSE_LIMIT_S = 30.0  # the promise: the saved DAG shows in Airflow within 30 s


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -r requirements.txt)")
    if not missing:
        return
    message = "browser test needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must run it (.ci/run installs chromium)")
    pytest.skip(message + "; install it to run this test (CI=true makes a missing browser a failure)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[AirflowStack]:
    _require_browser()
    home = tmp_path_factory.mktemp("airflow_browser")
    (home / "logs").mkdir()
    streamflow_url = f"sqlite:///{home / 'streamflow' / 'streamflow.db'}"
    port = _free_port()
    with ReplayServer() as replay:
        env = _environment(home, port, replay.url, streamflow_url)
        # No regular re-parse within the test: only the page's re-parse request can make the DAG follow.
        env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "600"
        env["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] = "600"
        stack = AirflowStack(f"http://127.0.0.1:{port}", streamflow_url, env, replay, home / "logs")
        init = subprocess.run(
            ["bash", str(REPO / "docker" / "init.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert init.returncode == 0, f"docker/init.sh failed:\n{init.stdout}\n{init.stderr}"
        # One configuration exists before the browser creates its own (the DAG file then has a DAG
        # whose file token the page can use; a first-ever configuration waits for a folder scan).
        created = subprocess.run(
            [
                str(BIN / "streamflow"),
                "config",
                "create",
                "--name",
                "existing daily means",
                "--data-type",
                "daily_mean",
                "--start",
                "2026-01-01",
                "--schedule",
                "daily",
                "--station",
                "01646500",
                "--station",
                "01638500",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        with stack.running():
            stack.wait_for(
                "the existing configuration's DAG",
                lambda: stack.api("GET", "/dags", params={"dag_id_pattern": "streamflow_config_"}).json()[
                    "total_entries"
                ],
                START_TIMEOUT,
            )
            yield stack


@pytest.fixture(scope="module")
def browser(stack):
    from playwright.sync_api import sync_playwright

    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def _seed_history(streamflow_url: str, config_id: int) -> None:
    """What two runs of configuration ``config_id`` would have left (written with the project's
    repository functions): 30 days of daily means and a forecast for 01646500, its progress, one
    successful run and one in which 01638500 failed."""
    import math
    from datetime import datetime, timedelta

    from streamflow.db import repository as repo
    from streamflow.db.engine import make_engine, session_scope
    from streamflow.outcomes import StationOutcome

    from tests.web.history import record_run, store_daily_means, store_rfc_forecast

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=34 - i) for i in range(30)]
    flows = [9000 + 6000 * math.exp(-(((i - 12) / 4) ** 2)) + 800 * math.sin(i / 3) for i in range(len(days))]
    issued = days[-1] + timedelta(hours=6)
    forecast = [(issued + timedelta(hours=6 * k), flows[-1] * (1 + 0.04 * k)) for k in range(1, 17)]
    down = "usgs: station 01638500: service unavailable (HTTP 503 from …/collections/daily/items)"
    engine = make_engine(streamflow_url)
    try:
        with session_scope(engine) as session:
            store_daily_means(session, "01646500", days, flows)
            store_rfc_forecast(session, "01646500", issued, "cfs", forecast)
            repo.advance_progress(session, config_id, "01646500", days[-1])
            now = datetime.now(UTC)
            record_run(
                session,
                config_id,
                "scheduled__a",
                now - timedelta(hours=30),
                [
                    StationOutcome("01646500", "usgs", "success", rows_fetched=30, rows_written=30),
                    StationOutcome("01638500", "usgs", "nothing"),
                ],
            )
            record_run(
                session,
                config_id,
                "manual__b",
                now - timedelta(hours=3),
                [
                    StationOutcome("01646500", "usgs", "nothing"),
                    StationOutcome("01638500", "usgs", "failed", message=down),
                ],
            )
    finally:
        engine.dispose()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _log_in(page, stack, *, shot: str | None = None) -> None:
    """Log in as the admin through Airflow's own login page (``shot``: a screenshot of the filled form)."""
    passwords = json.loads(Path(stack.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
    page.goto(f"{stack.base_url}/")
    page.get_by_label(re.compile("username", re.IGNORECASE)).fill(ADMIN)
    page.get_by_label(re.compile("password", re.IGNORECASE)).fill(passwords[ADMIN])
    if shot:
        _shot(page, shot)
    page.get_by_role("button", name=re.compile("sign in|log in|login", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r"^(?!.*login).*$"))


def test_data_ops_flow_in_a_real_browser(stack, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(30_000)
    posts: list[dict[str, str | None]] = []

    def record(request) -> None:
        if request.method in ("POST", "PUT"):
            posts.append({"url": request.url, "origin": request.headers.get("origin")})

    context.on("request", record)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # Log in through Airflow's own login page.
    _log_in(page, stack, shot="00-airflow-login")

    # Open Streamflow from Airflow's navigation.
    page.get_by_role("link", name="Streamflow").first.click()
    page.wait_for_url(re.compile(r"/plugin/streamflow"))
    frame = page.frame_locator("iframe[title='Streamflow']")
    expect(frame.locator("h1")).to_have_text("Pull configurations")
    expect(frame.locator("#configurations")).to_contain_text("existing daily means")
    _shot(page, "01-configurations-in-airflow")

    # Create a configuration from a station search.
    frame.get_by_role("link", name="+ New configuration").click()
    expect(frame.locator("h1")).to_have_text("New configuration")
    frame.locator("input[name=name]").fill("Potomac in Maryland (browser test)")
    frame.locator("select[name=schedule_type]").select_option("manual")
    frame.locator("select[name=s_state]").select_option("MD")
    frame.locator("select[name=s_huc]").select_option("02")
    frame.locator("input[name=s_text]").fill("potomac")
    frame.locator("#search-button").click()
    expect(frame.locator("#search-status")).to_contain_text("8 station(s) match")
    expect(frame.locator("#search-results tbody tr")).to_have_count(8)
    # For a forecast type the results say which stations have a NOAA mapping (all of these do).
    frame.locator("select[name=data_type]").select_option("rfc_forecast")
    expect(frame.locator("#search-results th", has_text="NOAA mapping")).to_be_visible()
    expect(frame.locator("#search-results tbody td.forecast-only", has_text="yes")).to_have_count(8)
    _shot(page, "02-station-search")
    frame.locator("select[name=data_type]").select_option("daily_mean")
    expect(frame.locator("#search-results th", has_text="NOAA mapping")).to_be_hidden()
    frame.locator("#add-all").click()
    expect(frame.locator("#selected-count")).to_have_text("8")
    frame.locator("#selected-stations tbody tr").filter(has_text="01595000").get_by_role(
        "button", name="Remove"
    ).click()
    expect(frame.locator("#selected-count")).to_have_text("7")
    _shot(page, "03-stations-selected")

    # A bad schedule first: the message sits at its field and nothing is saved.
    frame.locator("select[name=schedule_type]").select_option("cron")
    frame.locator("input[name=schedule_value]").fill("every day")
    frame.get_by_role("button", name="Create configuration").click()
    expect(frame.locator("#error-schedule")).to_contain_text("not a valid cron expression")
    expect(frame.locator("#selected-count")).to_have_text("7")  # the selection survived
    _shot(page, "04-form-error")
    frame.locator("select[name=schedule_type]").select_option("manual")
    frame.locator("input[name=schedule_value]").fill("")
    frame.get_by_role("button", name="Create configuration").click()

    # The detail page asks Airflow to re-parse and says when the DAG is there.
    expect(frame.locator(".notice.success").first).to_contain_text("Configuration created.")
    reparse = frame.locator("#reparse")
    expect(reparse).to_have_attribute("data-seconds", re.compile(r"\d"), timeout=120_000)
    created_seconds = float(reparse.get_attribute("data-seconds"))
    dag_id = reparse.get_attribute("data-dag-id")
    _shot(page, "05-detail-after-create")
    assert created_seconds < REPARSE_LIMIT_S, f"the new DAG took {created_seconds} s to show in Airflow"
    expect(frame.locator("#station-progress tbody tr")).to_have_count(7)

    # The DAG is in Airflow's DAG list.
    page.goto(f"{stack.base_url}/dags")
    expect(page.get_by_text("Potomac in Maryland (browser test)")).to_be_visible()
    _shot(page, "06-airflow-dag-list")
    dag = stack.api("GET", f"/dags/{dag_id}").json()
    assert dag["dag_display_name"] == "Potomac in Maryland (browser test)"
    assert "disabled" not in {t["name"] for t in dag["tags"]}

    # Back to its detail page through the nav, then disable it.
    page.get_by_role("link", name="Streamflow").first.click()
    frame = page.frame_locator("iframe[title='Streamflow']")
    frame.get_by_role("link", name="Potomac in Maryland (browser test)").click()
    expect(frame.locator("#enabled-state")).to_have_text("enabled")
    frame.locator("#toggle-enabled").click()
    expect(frame.locator("#enabled-state")).to_have_text("disabled")
    reparse = frame.locator("#reparse")
    expect(reparse).to_have_attribute("data-seconds", re.compile(r"\d"), timeout=120_000)
    disabled_seconds = float(reparse.get_attribute("data-seconds"))
    _shot(page, "07-detail-disabled")
    assert disabled_seconds < REPARSE_LIMIT_S

    # Airflow shows the DAG's disabled state (tag, no schedule).
    dag = stack.api("GET", f"/dags/{dag_id}").json()
    assert "disabled" in {t["name"] for t in dag["tags"]}, dag["tags"]
    assert dag["timetable_summary"] in (None, "None", "")
    page.goto(f"{stack.base_url}/dags?tags=disabled")
    expect(page.get_by_role("link", name="Potomac in Maryland (browser test)")).to_be_visible()
    expect(page.get_by_text("existing daily means")).to_have_count(0)
    _shot(page, "08-airflow-dags-tagged-disabled")

    # A link to the DAG opens it in Airflow's own window, not inside the Streamflow frame.
    page.goto(f"{stack.base_url}/plugin/streamflow")
    frame = page.frame_locator("iframe[title='Streamflow']")
    frame.get_by_role("link", name=dag_id).click()
    page.wait_for_url(re.compile(rf"/dags/{dag_id}$"))
    expect(page.locator("iframe[title='Streamflow']")).to_have_count(0)

    # A configuration with history: hydrograph with its forecast, runs, a failing station on Health.
    _seed_history(stack.streamflow_url, 1)
    page.goto(f"{stack.base_url}/plugin/streamflow")
    frame = page.frame_locator("iframe[title='Streamflow']")
    frame.get_by_role("link", name="existing daily means").click()
    expect(frame.locator("#hydrograph canvas").first).to_be_visible()
    expect(frame.locator("#hydrograph-status")).to_contain_text("30 observed daily_mean value(s)")
    expect(frame.locator("#hydrograph-status")).to_contain_text("1 forecast(s) overlaid")
    hydro_legend = frame.locator("#hydrograph .u-legend")
    expect(hydro_legend).to_contain_text("Observed daily_mean (cfs)")
    expect(hydro_legend).not_to_contain_text("--")  # at rest: the series names only
    plot = frame.locator("#hydrograph .u-over")
    plot.scroll_into_view_if_needed()
    plot_box = plot.bounding_box()
    assert plot_box, "no plotting area"
    page.mouse.move(plot_box["x"] + plot_box["width"] / 2, plot_box["y"] + plot_box["height"] / 2)
    expect(hydro_legend.locator(".u-series").first).to_contain_text(" UTC")  # the instant under the cursor
    page.mouse.move(0, 0)
    expect(frame.locator("#runs")).to_contain_text("manual__b")
    _shot(page, "09-detail-with-history")
    frame.get_by_role("link", name="Health").click()
    expect(frame.locator("h1")).to_have_text("Health at a glance")
    expect(frame.locator("#failing")).to_contain_text("01638500")
    expect(frame.locator("#stale")).to_contain_text("01646500")
    expect(frame.locator("#failed")).to_contain_text("manual__b")
    _shot(page, "10-health")
    frame.get_by_role("link", name="Configurations").click()
    expect(frame.locator("#configurations tbody tr")).to_have_count(2)
    expect(frame.locator(".notice.warn")).to_contain_text("1 station(s) failing now")
    _shot(page, "11-configurations-with-history")
    page.goto(f"{stack.base_url}/streamflow/")  # the app on its own (outside the iframe) works too
    expect(page.locator("#configurations tbody tr")).to_have_count(2)
    _shot(page, "12-configurations-standalone")

    # What the browser sent: our writes came from this origin (the iframe is same-origin).
    ours = [p for p in posts if "/streamflow/configurations" in p["url"]]
    assert ours and {p["origin"] for p in ours} == {stack.base_url}, ours
    assert any("parseDagFile" in p["url"] for p in posts)
    assert not [e for e in console_errors if "streamflow" in e.lower()], console_errors
    (ARTIFACTS / "timings.json").write_text(
        json.dumps(
            {"created_dag_visible_s": created_seconds, "disabled_dag_updated_s": disabled_seconds}, indent=2
        )
    )
    print(f"re-parse: new DAG visible after {created_seconds} s; disabled state after {disabled_seconds} s")
    context.close()


SKILL_STATION = "01613000"  # POTOMAC RIVER AT HANCOCK, MD


def _seed_skill(streamflow_url: str) -> tuple[int, int, str]:
    """An RFC forecast configuration whose first station has 16 days of hourly observations (two
    storm hydrographs) and RFC-style runs every 12 h, 6-hourly out to 5 days, verified by the
    project's own verification: returns (runs verified, of which partial, the first run's UTC day)."""
    import math
    import random
    from datetime import datetime, timedelta

    from streamflow.db import repository as repo
    from streamflow.db import verification as ver
    from streamflow.db.engine import make_engine, session_scope

    from tests.web.history import store_forecast, store_realtime

    hour = timedelta(hours=1)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - hour
    start = end - timedelta(days=16)

    def flow(t: datetime) -> float:
        days = (t - start) / timedelta(days=1)
        storm = lambda peak, at, rise, fall: peak * math.exp(-(((days - at) / (rise if days < at else fall)) ** 2))
        return 2400 * math.exp(-days / 40) + storm(6800, 5.5, 0.9, 2.2) + storm(3100, 11.0, 0.7, 1.8)

    times = [start + k * hour for k in range(int((end - start) / hour) + 1)]
    noise = random.Random(13)
    issued = [start.replace(hour=0) + timedelta(days=1) + k * timedelta(hours=12) for k in range(26)]
    engine = make_engine(streamflow_url)
    try:
        with session_scope(engine) as session:
            repo.create_configuration(
                session, name="Potomac RFC forecasts", data_type="rfc_forecast", data_strategy="append",
                pull_start_date=start, schedule_type="hourly",
                stations=[{"station_number": SKILL_STATION}, {"station_number": "01638500"}],
            )
            store_realtime(session, SKILL_STATION, times, [flow(t) for t in times])
            for run in issued:
                timing, volume = noise.gauss(0, 1), noise.gauss(0, 1)  # this run's errors, growing with the lead
                values = []
                for step in range(1, 21):  # 6-hourly to 120 h
                    lead = 6 * step
                    valid = run + lead * hour
                    shifted = valid - timedelta(hours=0.1 * lead * timing)
                    scale = 1 + 0.0004 * lead + 0.03 * volume * math.sqrt(lead / 24) + noise.gauss(0, 0.01)
                    values.append((valid, flow(shifted) * scale))
                store_forecast(session, SKILL_STATION, "NOAA_RFC", "rfc_forecast", run, "cfs", values)
        with session_scope(engine) as session:
            result = ver.verify_range(session, [SKILL_STATION], start, end)
        assert not result.failed, result.failed
        return result.complete + result.partial, result.partial, issued[0].date().isoformat()
    finally:
        engine.dispose()


def test_forecast_skill_in_a_real_browser(stack, browser):
    from playwright.sync_api import expect

    runs, partial, first_day = _seed_skill(stack.streamflow_url)
    assert runs == 26 and partial > 0
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    _log_in(page, stack)

    page.goto(f"{stack.base_url}/plugin/streamflow")
    frame = page.frame_locator("iframe[title='Streamflow']")
    frame.get_by_role("link", name="Potomac RFC forecasts").click()
    skill = frame.locator("#skill")
    expect(skill.locator("h2")).to_contain_text("Forecast skill")
    expect(skill.locator("select[name=skill_station]")).to_have_value(SKILL_STATION)
    expect(frame.locator("#skill-caption")).to_contain_text(f"{runs} NOAA_RFC runs, any issue time")
    expect(frame.locator("#skill-caption")).to_contain_text(f"{partial} partial")
    rows = frame.locator("#skill-table tbody tr")
    expect(rows).to_have_count(8)  # 0-6 h … 96-120 h, then all leads
    expect(rows.last).to_have_class(re.compile("whole-run"))
    expect(rows.first.locator("td").first).to_have_text("0–6 h")
    canvas = frame.locator("#skill-chart canvas")
    expect(canvas).to_be_visible()
    expect(frame.locator("#skill-chart")).to_have_attribute("data-drawn", "7")
    box = canvas.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 200, box
    legend = frame.locator("#skill-chart .u-legend")
    expect(legend).to_contain_text("Forecast RMSE")
    expect(legend).to_contain_text("Persistence RMSE")
    expect(legend).not_to_contain_text("—")  # at rest the legend names the series, no row of dashes
    # hovering the first bin shows its two RMSEs in the legend, as the table prints them
    first_rmse = rows.first.locator("td").nth(3).inner_text()
    over = frame.locator("#skill-chart .u-over")
    over.scroll_into_view_if_needed()
    over_box = over.bounding_box()
    assert over_box, "no plotting area"
    page.mouse.move(over_box["x"] + over_box["width"] / 14, over_box["y"] + over_box["height"] / 2)
    expect(legend.locator(".u-series").nth(1)).to_contain_text(first_rmse)
    page.mouse.move(0, 0)
    # the numbers line up: every score cell is right-aligned
    aligns = frame.locator("#skill-table td.num").evaluate_all("cells => cells.map(c => getComputedStyle(c).textAlign)")
    assert set(aligns) == {"right"}
    # the card does not overflow the page sideways
    overflow = frame.locator("body").evaluate("b => b.scrollWidth - b.clientWidth")
    assert overflow <= 0, overflow

    # a period: the form returns to the card with the runs issued in it
    frame.locator("input[name=skill_from]").fill(first_day)
    frame.locator("input[name=skill_to]").fill(first_day)
    frame.locator("#skill-form").get_by_role("button", name="Show").click()
    expect(frame.locator("#skill-caption")).to_contain_text(f"2 NOAA_RFC runs, issued {first_day} to {first_day} UTC")
    assert frame.locator("body").evaluate("() => location.hash") == "#skill"
    frame.locator("#skill-form").get_by_role("link", name="All runs").click()
    expect(frame.locator("#skill-caption")).to_contain_text(f"{runs} NOAA_RFC runs, any issue time")
    expect(frame.locator("#skill-chart canvas")).to_be_visible()
    frame.locator("#skill").evaluate("card => card.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    _shot(page, "13-forecast-skill")
    assert not [e for e in console_errors if "streamflow" in e.lower()], console_errors
    context.close()
