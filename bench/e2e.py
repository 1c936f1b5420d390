"""(3) End-to-end pull of one configuration: 200 USGS stations × 10 years of daily means.

The stand-in Water Data API (``streamflow/testing/fakes/usgs_fast.py``: the recorded feature shape, one 50,000-row
page per request) runs in the benchmark's process on 127.0.0.1; the pull runs in a child process
(``bench/pull_child.py``) that calls ``streamflow.operators.observations.pull_observations`` per station with the
USGS pull task's hook (``UsgsWaterDataHook``) — the work one ``pull_usgs`` mapped task does, without
Airflow around it — one station after the other, into a fresh streamflow database. Ten years
(3,653 days) is just over ``MAX_CHUNK`` for daily means (3,650 days), so each station is two
chunks. Shares of the wall time: **HTTP** = request sent → whole body received
(``httpx.AsyncClient.send``: network plus the stand-in generating the page in the parent
process), **JSON** = decoding the body, **dataretrieval shaping** = the rest of the library call
(features → DataFrame, paging logic), **our parsing** = the hook's payload → canonical frame,
**database** = every ``session_scope`` of the pull (progress reads, station row, upserts, progress
writes, commits), **other** = the remainder (planning, logging, Python glue).
"""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.common import REPO_ROOT, Section, Table, bench_env, python, scratch_database

log = logging.getLogger("bench.e2e")

STATIONS = 200
YEARS = 10
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def station_numbers(count: int) -> list[str]:
    return [f"0{1_000_000 + i * 37:07d}" for i in range(count)]


def run_child(url: str, server_url: str, spec: dict) -> dict:
    env = bench_env({
        "STREAMFLOW_DATABASE_URL": url,
        "AIRFLOW_CONN_USGS_WATERDATA": json.dumps({"conn_type": "http", "host": server_url}),
        "DATARETRIEVAL_CONFIG": "/dev/null",
        "AIRFLOW_HOME": spec.pop("airflow_home"),
    })
    proc = subprocess.run([python(), str(REPO_ROOT / "bench" / "pull_child.py"), json.dumps(spec)],
                          env=env, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pull child failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def configure(url: str, stations: list[str], data_type: str, start: datetime) -> int:
    from streamflow.db import repository as repo
    from streamflow.db.engine import make_engine, session_scope

    engine = make_engine(url)
    with session_scope(engine) as s:
        config_id = repo.create_configuration(
            s, name=f"bench {data_type}", data_type=data_type, data_strategy="append", pull_start_date=start,
            schedule_type="daily", stations=[{"station_number": n} for n in stations],
        ).id
    engine.dispose()
    return config_id


def run(workdir: Path, *, quick: bool = False, backends=("postgresql", "sqlite")) -> Section:
    from streamflow.testing.fakes.usgs_fast import FastUsgs
    from streamflow.testing.replay import ReplayServer

    section = Section("e2e", "3. End-to-end pull: 200 stations × 10 years of daily means", design=__doc__.split("\n", 2)[2])
    count = 10 if quick else STATIONS
    stations = station_numbers(count)
    start = NOW - timedelta(days=round(365.25 * YEARS))
    table = Table("", ["database", "stations", "rows", "wall s", "rows/s", "HTTP", "JSON", "dataretrieval shaping",
                       "our parsing", "database", "other", "requests", "MB served"])
    for kind in backends:
        with ReplayServer() as server, scratch_database(kind, workdir, prefix="sf_bench_e2e") as url:
            fake = FastUsgs(server, until=NOW)
            config_id = configure(url, stations, "daily_mean", start)
            (workdir / "airflow_home_e2e").mkdir(exist_ok=True)
            r = run_child(url, server.url, {
                "config_id": config_id, "stations": stations, "data_type": "daily_mean",
                "pull_start_date": start.isoformat(), "now": NOW.isoformat(),
                "airflow_home": str(workdir / "airflow_home_e2e"),
            })
            mb = fake.bytes_served / 1e6
        wall = r["wall_s"]
        shaping = r["library_call"] - r["http"] - r["json"]
        other = wall - r["library_call"] - r["our_parsing"] - r["database"]
        share = lambda s: f"{s:.1f} s ({s / wall:.0%})"  # noqa: E731
        table.add(kind, count, f"{r['rows']:,}", f"{wall:.1f}", f"{r['rows'] / wall:,.0f}", share(r["http"]),
                  share(r["json"]), share(shaping), share(r["our_parsing"]), share(r["database"]), share(other),
                  r["http_requests"], f"{mb:.0f}")
        log.info("%s: %s", kind, r)
        section.notes.append(f"{kind}: {r['chunks']} chunks, {r['written']:,} rows written, peak RSS {r['peak_rss_mb']:.0f} MB.")
    section.tables.append(table)
    return section
