"""(5) The CeleryExecutor deployment with 1 and with 2 workers: one 200-station USGS and one
20-station EC daily-means configuration (60 days each), triggered together through the REST API.

Each row is a fresh cluster started by ``scripts/cluster.sh`` (API server, scheduler, DAG
processor, triggerer and N Celery workers of concurrency 4, PostgreSQL for Airflow's metadata and
the streamflow data, a password-protected redis-server, FAB auth), with pools usgs_api=4 and
eccc_api=2, against the stand-in services (``streamflow/testing/fakes``) on 127.0.0.1 answering
with 0.2–0.5 s of latency per request (``LoadProfile``; no 429/503 here, so no retry delays).
**wall** = trigger → both runs finished; **tasks/s** counts the 220 pull tasks; **peak in flight**
is the most requests the stand-in saw at once per service. Both rows are measured in the same
``python -m bench --only cluster`` run, one after the other, on the same machine.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import REPO_ROOT, Section, Table, postgres_admin_url

log = logging.getLogger("bench.cluster")
UTC = timezone.utc
USGS_STATIONS, EC_STATIONS, DAYS = 200, 20, 60
POOLS = "usgs_api=4 eccc_api=2 noaa_api=4"
LST = {"BC": -8, "YT": -8, "AB": -7, "NT": -7, "SK": -6, "MB": -6, "ON": -5, "QC": -5, "NU": -5,
       "NB": -4, "NS": -4, "PE": -4}


def _ec_stations(count: int) -> dict[str, str]:
    chosen: dict[str, str] = {}
    with open(REPO_ROOT / "data" / "master_stations.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["agency"] == "EC" and row["state_code"] in LST and len(chosen) < count:
                chosen[row["station_number"]] = row["state_code"]
    return chosen


def _read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value.strip("'")
    return out


def _one(workers: int, usgs_count: int, ec_count: int, workdir: Path) -> dict:
    from streamflow.db import repository as repo
    from streamflow.db.engine import make_engine, session_scope
    from streamflow.testing.fakes.eccc import FakeEccc
    from streamflow.testing.fakes.usgs import FakeUsgs
    from streamflow.testing.replay import LoadProfile, ReplayServer

    admin = make_url(postgres_admin_url())
    home = Path(tempfile.mkdtemp(prefix=f"cluster{workers}_", dir=workdir))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = datetime.combine(now.date() - timedelta(days=DAYS), datetime.min.time(), UTC)
    with ReplayServer() as replay:
        FakeUsgs(replay, until=now)
        ec = _ec_stations(ec_count)
        FakeEccc(replay, until=now, offsets={s: (p, LST[p]) for s, p in ec.items()}, hydat_lag=timedelta(days=20))
        for service in ("usgs", "eccc"):
            replay.load(service, LoadProfile(latency=0.2, jitter=0.3, seed=5))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STREAMFLOW", "PG"))}
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "STREAMFLOW_CLUSTER_HOME": str(home / "home"), "STREAMFLOW_CLUSTER_NAME": f"sfbench_{secrets.token_hex(4)}",
            "STREAMFLOW_CLUSTER_WORKERS": str(workers), "STREAMFLOW_POOLS": POOLS,
            "STREAMFLOW_TASK_RETRIES": "2", "STREAMFLOW_RETRY_DELAY_SECONDS": "1",
            "PGHOST": admin.host or "127.0.0.1", "PGPORT": str(admin.port or 5432),
            "PGUSER": admin.username or "postgres", "PGDATABASE": admin.database or "postgres",
        })
        for conn_id in ("usgs_waterdata", "eccc_datamart", "eccc_wateroffice", "noaa_nwps"):
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "http", "host": replay.url})
        script = [str(REPO_ROOT / "scripts" / "cluster.sh")]

        def sh(*args: str) -> None:
            result = subprocess.run(["bash", *script, *args], env=env, capture_output=True, text=True, timeout=900,
                                    check=False)
            if result.returncode != 0:
                raise RuntimeError(f"cluster.sh {' '.join(args)} failed:\n{result.stderr[-3000:]}")

        try:
            sh("up")
            d = _read_env(home / "home" / ".env")
            sf_url = make_url(postgres_admin_url()).set(
                drivername="postgresql+psycopg", database=d["STREAMFLOW_DB_NAME"], username=d["STREAMFLOW_DB_USER"],
                password=d["STREAMFLOW_DB_PASSWORD"]).render_as_string(hide_password=False)
            engine = make_engine(sf_url)
            ids = []
            with session_scope(engine) as s:
                for name, stations in (("bench USGS", [f"0{3_000_000 + i * 37:07d}" for i in range(usgs_count)]),
                                       ("bench EC", list(ec))):
                    ids.append(repo.create_configuration(
                        s, name=name, data_type="daily_mean", data_strategy="append", pull_start_date=start,
                        schedule_type="manual", stations=[{"station_number": n} for n in stations]).id)
            engine.dispose()
            base = d["AIRFLOW_BASE_URL"]
            token = requests.post(f"{base}/auth/token", json={"username": d["STREAMFLOW_ADMIN_USER"],
                                                              "password": d["STREAMFLOW_ADMIN_PASSWORD"]},
                                  timeout=30).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            dags = [f"streamflow_config_{i}" for i in ids]
            deadline = time.monotonic() + 300
            while not all(requests.get(f"{base}/api/v2/dags/{dag}", headers=auth, timeout=30).ok for dag in dags):
                if time.monotonic() > deadline:
                    raise RuntimeError("the DAGs were not parsed within 300 s")
                time.sleep(2)
            for dag in dags:
                requests.patch(f"{base}/api/v2/dags/{dag}", json={"is_paused": False}, headers=auth,
                               timeout=30).raise_for_status()
            started = time.monotonic()
            runs = {}
            for dag in dags:
                response = requests.post(f"{base}/api/v2/dags/{dag}/dagRuns", json={"logical_date": None},
                                         headers=auth, timeout=30)
                response.raise_for_status()
                runs[dag] = response.json()["dag_run_id"]
            states: dict[str, str] = {}
            while True:
                states = {dag: requests.get(f"{base}/api/v2/dags/{dag}/dagRuns/{run}", headers=auth,
                                            timeout=30).json()["state"] for dag, run in runs.items()}
                if all(s in ("success", "failed") for s in states.values()):
                    break
                if time.monotonic() - started > 3600:
                    raise RuntimeError(f"runs not finished after an hour: {states}")
                time.sleep(1)
            wall = time.monotonic() - started
            hosts: Counter[str] = Counter()
            for dag, run in runs.items():
                offset = 0
                while True:
                    body = requests.get(f"{base}/api/v2/dags/{dag}/dagRuns/{run}/taskInstances", headers=auth,
                                        params={"limit": 100, "offset": offset}, timeout=30).json()
                    hosts.update(t["hostname"] for t in body["task_instances"] if t["task_id"].startswith("pull_"))
                    offset += len(body["task_instances"])
                    if offset >= body["total_entries"] or not body["task_instances"]:
                        break
            check = create_engine(sf_url)
            with check.connect() as conn:
                rows = conn.execute(text("SELECT count(*) FROM discharge_observations")).scalar_one()
            check.dispose()
            return {"workers": workers, "wall_s": wall, "states": states, "rows": rows, "tasks": sum(hosts.values()),
                    "hosts": dict(hosts), "peak": dict(replay.max_in_flight)}
        finally:
            subprocess.run(["bash", *script, "down", "--purge"], env=env, capture_output=True, text=True,
                           timeout=600, check=False)


def note(one: dict, two: dict) -> str:
    return (
        f"2 workers vs 1: {one['wall_s'] / two['wall_s']:.2f}x the throughput (wall {one['wall_s']:.0f} s → "
        f"{two['wall_s']:.0f} s), measured in the same run. One worker (concurrency 4) runs at most 4 tasks at "
        f"once, so the pools' 4 + 2 slots are never all in use (peak in flight usgs {one['peak'].get('usgs', 0)}, "
        f"eccc {one['peak'].get('eccc', 0)}); two workers run up to 8 tasks, of which the pools admit 6 pulls "
        "(plan and finalize take the rest). The gain stays below 2x: with two workers the pools, not the "
        "workers, are the limit, and the machine's 2 cores are shared by both workers' task processes, the "
        "scheduler, the API server and PostgreSQL."
    )


def run(workdir: Path, *, quick: bool = False) -> Section:
    section = Section("cluster", "7. CeleryExecutor: 220 stations with 1 vs 2 workers", design=__doc__.split("\n", 2)[2])
    usgs_count, ec_count = (20, 4) if quick else (USGS_STATIONS, EC_STATIONS)
    results = [_one(workers, usgs_count, ec_count, workdir) for workers in (1, 2)]
    table = Table("", ["workers", "stations", "pull tasks", "rows", "wall s", "tasks/s", "rows/s",
                       "tasks per worker", "peak in flight (usgs, eccc)", "runs"])
    for r in results:
        log.info("cluster: %s", r)
        table.add(r["workers"], usgs_count + ec_count, r["tasks"], f"{r['rows']:,}", f"{r['wall_s']:.1f}",
                  f"{r['tasks'] / r['wall_s']:.2f}", f"{r['rows'] / r['wall_s']:,.0f}",
                  ", ".join(f"{h}: {n}" for h, n in sorted(r["hosts"].items())),
                  f"{r['peak'].get('usgs', 0)}, {r['peak'].get('eccc', 0)}", "/".join(sorted(set(r["states"].values()))))
    section.tables.append(table)
    section.notes.append(note(*results))
    return section
