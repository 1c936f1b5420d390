"""(5) Read API: exporting 1,000,000 observations of one station as CSV, and a 10,000-row JSON page.

A real ``airflow api-server`` process (Airflow's own command, one worker, 127.0.0.1 on a free port,
SimpleAuthManager with one viewer; its metadata database is SQLite, the streamflow database is a
fresh PostgreSQL database) serves the Streamflow plugin. The benchmark logs in like a client does
(``POST /auth/token``), then exports every observation of one station (``ROWS`` instantaneous values
at 5 minutes, ≈ 9.5 years, loaded by ``INSERT … SELECT generate_series`` before the clock starts)
as CSV by following the ``next`` links: ``limit`` is capped at 50,000 rows per request, so the export
is ``ROWS / 50,000`` requests; bodies are read in 1 MiB pieces, uncompressed
(``Accept-Encoding: identity``). Beside it, in the same run and alternating with it, PostgreSQL's
own ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` of the same rows (same columns, same order) is read
by this process through psycopg — the ceiling — in pieces taken straight from libpq, the way the API
reads its own COPY (``streamflow.db.pgcopy.copy_out``), so neither side pays psycopg's per-row
iterator. ``ROUNDS`` rounds; the verdict is on their median. Memory: the resident set of the api-server's process
tree is sampled every 20 ms during the export; "idle" is its RSS after a warm-up request. JSON: one
page of 10,000 rows from the middle of the series, timed beside the same ``SELECT`` (10,001 rows,
the page's extra row that says whether more follow) fetched through psycopg; medians of
``REPEATS`` runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

from bench.common import Section, Table, bench_env, python, rate, ratio, scratch_database, secs

log = logging.getLogger("bench.api")

ROWS = 1_000_000
STATION = "01646500"
PAGE = 50_000
JSON_ROWS = 10_000
REPEATS = 5
ROUNDS = 5
USER, PASSWORD = "bench", "bench-password"
RSS_TARGET_MB = 150
RATE_TARGET = 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(url: str, rows: int) -> int:
    """One station with ``rows`` 5-minute values (set-up, not timed)."""
    from sqlalchemy import text

    from streamflow.db.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        station_id = conn.execute(text(
            "INSERT INTO stations (station_number, name, agency) VALUES (:n, 'POTOMAC RIVER (bench)', 'USGS') RETURNING id"
        ), {"n": STATION}).scalar_one()
        conn.execute(text(
            "INSERT INTO discharge_observations (station_id, observed_at, discharge, unit, type, quality_code) "
            "SELECT :sid, timestamptz '2016-01-01 00:00:00+00' + i * interval '5 minutes', "
            "100 + (i::bigint * 7919 % 9000) / 7.0, 'cfs', 'realtime_15min', CASE WHEN i % 3 = 0 THEN 'A' ELSE 'P' END "
            "FROM generate_series(0, :last) AS i"
        ), {"sid": station_id, "last": rows - 1})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE discharge_observations"))
    engine.dispose()
    return station_id


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 1024 / 1024


class _Sampler:
    """Peak RSS of a process tree, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mb(self.pid))
            time.sleep(self.every)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def api_server(workdir: Path, database_url: str) -> Iterator[tuple[str, int]]:
    """A real ``airflow api-server`` on 127.0.0.1:<free port>; yields (base URL, pid)."""
    import requests

    home = workdir / "airflow_home_api"
    home.mkdir(exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = bench_env({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(),
        "AIRFLOW__API__SECRET_KEY": os.urandom(16).hex(),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "STREAMFLOW_DATABASE_URL": database_url,
    })
    (home / "dags").mkdir(exist_ok=True)
    subprocess.run([python(), "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=900)
    port = _free_port()
    log_file = (home / "api-server.log").open("w")
    proc = subprocess.Popen([python(), "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"airflow api-server exited ({proc.returncode}); see {home / 'api-server.log'}")
            try:
                if requests.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"airflow api-server did not answer within 180 s; see {home / 'api-server.log'}")
            time.sleep(0.5)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()


def _token(base: str) -> str:
    import requests

    response = requests.post(f"{base}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def _export_api(session, base: str) -> tuple[float, int, int, int]:
    """(seconds, rows, bytes, requests) of the whole export through the next links."""
    url = f"{base}/streamflow/api/v1/stations/{STATION}/observations?type=realtime_15min&f=csv&limit={PAGE}"
    rows = size = requests_made = 0
    start = time.perf_counter()
    while url:
        with session.get(url, stream=True, timeout=600) as response:
            response.raise_for_status()
            for piece in response.iter_content(1 << 20):
                size += len(piece)
                rows += piece.count(b"\n")
            url = response.links.get("next", {}).get("url")
        rows -= 1  # each page's header line
        requests_made += 1
    return time.perf_counter() - start, rows, size, requests_made


COPY_SQL = (
    "COPY (SELECT s.station_number, o.observed_at, o.type, o.discharge, o.unit, o.quality_code "
    "FROM discharge_observations o JOIN stations s ON s.id = o.station_id "
    "WHERE o.station_id = {sid} AND o.type = 'realtime_15min' ORDER BY o.observed_at, o.type) TO STDOUT (FORMAT csv)"
)


def _export_copy(url: str, station_id: int) -> tuple[float, int, int]:
    import psycopg

    from bench.common import _psycopg
    from streamflow.db.pgcopy import copy_out

    dsn = _psycopg(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        rows = size = 0
        # Read the way the API reads its own COPY (pieces straight from libpq), so the ceiling is
        # the database's rate and not psycopg's per-row iterator.
        for piece in copy_out(cur, COPY_SQL.format(sid=int(station_id))):
            size += len(piece)
            rows += piece.count(b"\n")
        return time.perf_counter() - start, rows, size


RAW_PAGE_SQL = (
    "SELECT o.observed_at, o.type, o.discharge, o.unit, o.quality_code FROM discharge_observations o "
    "WHERE o.station_id = %(sid)s AND o.type = 'realtime_15min' AND o.observed_at >= %(start)s "
    "ORDER BY o.observed_at, o.type LIMIT %(n)s"
)
FIRST = datetime(2016, 1, 1, tzinfo=UTC)  # the first loaded instant (see _load)


def _middle(rows: int) -> str:
    return (FIRST + timedelta(minutes=5 * (rows // 2))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_page(session, base: str, middle: str) -> tuple[float, int]:
    url = (f"{base}/streamflow/api/v1/stations/{STATION}/observations?type=realtime_15min&limit={JSON_ROWS}"
           f"&datetime={middle}/..")
    start = time.perf_counter()
    response = session.get(url, timeout=120)
    response.raise_for_status()
    body = response.json()
    return time.perf_counter() - start, body["number_returned"]


def _raw_page(url: str, station_id: int, middle: str) -> tuple[float, int]:
    import psycopg

    from bench.common import _psycopg

    dsn = _psycopg(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        cur.execute(RAW_PAGE_SQL, {"sid": station_id, "start": datetime.fromisoformat(middle), "n": JSON_ROWS + 1})
        rows = cur.fetchall()
        return time.perf_counter() - start, len(rows)


def run(workdir: Path, *, quick: bool = False) -> Section:
    import requests

    from bench.common import postgres_available

    section = Section("api", "5. Read API: CSV export of one station and a JSON page", design=__doc__.split("\n", 2)[2])
    if not postgres_available():
        section.notes.append("PostgreSQL was not reachable: nothing measured.")
        return section
    rows_wanted = 100_000 if quick else ROWS
    load_before = os.getloadavg()[0]
    export = Table("CSV export of every observation of one station", [
        "round", "method", "rows", "MB", "seconds", "rows/s", "requests", "API ÷ COPY"])
    memory = Table("Memory of the api-server process tree (RSS)", ["idle MB", "peak during export MB", "peak − idle MB"])
    page = Table(f"One JSON page of {JSON_ROWS:,} rows (median of {REPEATS})",
                 ["method", "rows", "seconds", "rows/s", "API ÷ raw query"])
    with scratch_database("postgresql", workdir, prefix="sf_bench_api") as url:
        station_id = _load(url, rows_wanted)
        log.info("loaded %d rows", rows_wanted)
        with api_server(workdir, url) as (base, pid), requests.Session() as session:
            session.headers.update({"Authorization": f"Bearer {_token(base)}", "Accept-Encoding": "identity"})
            warm = session.get(f"{base}/streamflow/api/v1/stations/{STATION}/observations?limit=10&f=csv", timeout=60)
            warm.raise_for_status()
            time.sleep(1.0)
            idle = _tree_rss_mb(pid)
            ratios, peak = [], 0.0
            for round_ in range(1, ROUNDS + 1):
                with _Sampler(pid) as sampler:
                    api_s, api_rows, api_bytes, api_requests = _export_api(session, base)
                peak = max(peak, sampler.peak)
                copy_s, copy_rows, copy_bytes = _export_copy(url, station_id)
                if api_rows != rows_wanted or copy_rows != rows_wanted:
                    raise RuntimeError(f"export rows: API {api_rows}, COPY {copy_rows}, expected {rows_wanted}")
                ratios.append(copy_s / api_s)
                export.add(round_, "API `f=csv`, following `next`", f"{api_rows:,}", f"{api_bytes / 1e6:.1f}",
                           secs(api_s), rate(api_rows, api_s), api_requests, f"{copy_s / api_s:.2f}×")
                export.add(round_, "PostgreSQL `COPY (SELECT …) TO STDOUT`", f"{copy_rows:,}",
                           f"{copy_bytes / 1e6:.1f}", secs(copy_s), rate(copy_rows, copy_s), 1, "")
                log.info("round %d: API %.2f s, COPY %.2f s, peak RSS %.0f MB (idle %.0f)", round_, api_s, copy_s,
                         sampler.peak, idle)
            memory.add(f"{idle:.0f}", f"{peak:.0f}", f"{peak - idle:.0f}")
            api_times, raw_times, n_api, n_raw = [], [], 0, 0
            for _ in range(REPEATS):
                seconds, n_api = _json_page(session, base, _middle(rows_wanted))
                api_times.append(seconds)
                seconds, n_raw = _raw_page(url, station_id, _middle(rows_wanted))
                raw_times.append(seconds)
            api_median, raw_median = statistics.median(api_times), statistics.median(raw_times)
            page.add("API JSON page (`limit=10000`)", f"{n_api:,}", f"{api_median:.3f}", rate(n_api, api_median),
                     ratio(raw_median, api_median))
            page.add("the same SELECT through psycopg", f"{n_raw:,}", f"{raw_median:.3f}", rate(n_raw, raw_median), "")
    section.tables += [export, memory, page]
    section.notes.append(
        f"Load average (1 min) {load_before:.1f} before and {os.getloadavg()[0]:.1f} after this part, on "
        f"{os.cpu_count()} CPUs shared with other sessions. The API path keeps three processes busy (this "
        "client, the api-server, the PostgreSQL backend) where COPY keeps two, so on an oversubscribed "
        "two-CPU machine its ratio suffers most. Per 50,000-row page the API adds to the database's own "
        "CSV writing: formatting instants as RFC 3339 in the COPY, finding the page's last key (an "
        "index-only scan of the page, for the `Link` header sent before the body, ≈ 8 ms), authentication "
        "and Airflow's middleware (≈ 10 ms a request), and passing the bytes through Python and HTTP; the "
        "api-server's memory stays flat because no page is ever held whole (rows are forwarded in 1 MiB "
        "pieces).")
    middle = statistics.median(ratios)
    section.verdicts.append(
        f"CSV export ≥ {RATE_TARGET}× COPY's rate: {'met' if middle >= RATE_TARGET else 'NOT met'} "
        f"(median {middle:.2f}× of {ROUNDS} rounds: {', '.join(f'{r:.2f}×' for r in ratios)})")
    section.verdicts.append(
        f"API process tree < {RSS_TARGET_MB} MB above idle during the export: "
        f"{'met' if peak - idle < RSS_TARGET_MB else 'NOT met'} ({peak - idle:.0f} MB)")
    return section
