"""The production deployment (CeleryExecutor, Redis, PostgreSQL, FAB auth) run for real on this
machine by scripts/cluster.sh: API server, scheduler, DAG processor, triggerer and two Celery
workers as processes on loopback, with the environment the compose file gives each service.

The services are the stand-ins (streamflow.testing.fakes) behind one replay server that answers
like the real services under load (latency, some 429 with Retry-After, some 503) and counts the
requests in flight per service. Pools: usgs_api 4, eccc_api 2.

One run of two configurations (200 USGS stations, 20 EC stations, daily means) triggered together
through the REST API, during which: worker1 is SIGKILLed while it holds running pulls (they are
detected by the heartbeat timeout and re-run by worker2), the scheduler is restarted, a third
worker starts and worker2 is given a warm shutdown (its running pulls finish). Then the stored rows
must equal what a clean run stores (the stand-ins' series), progress per station must equal the
last stored instant, and the stand-in must never have seen more requests in flight to a service
than the service's pool has slots. The longest lock wait on the streamflow database is reported.

The heartbeat timeout is lowered for the test (STREAMFLOW_CLUSTER_OVERRIDES) so a killed worker's
tasks come back in seconds; docs/operations.md gives the production values.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from streamflow.testing.fakes.eccc import FakeEccc
from streamflow.testing.fakes.usgs import FakeUsgs
from streamflow.testing.replay import LoadProfile, ReplayServer
from tests.conftest import POSTGRES_URL
from tests.deploy.compose_spec import read_dotenv

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

UTC = timezone.utc
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USGS_STATIONS = int(os.environ.get("STREAMFLOW_CLUSTER_TEST_USGS", "200"))
EC_STATIONS = int(os.environ.get("STREAMFLOW_CLUSTER_TEST_EC", "20"))
POOLS = {"usgs_api": 4, "eccc_api": 2}
DAYS = 60  # each station: one request per service window
RUN_TIMEOUT = 900.0
# Overridden for the test only: a killed worker's tasks are failed (and retried) 20 s after
# their last heartbeat instead of docker/airflow.env's 120 s.
OVERRIDES = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
    # A pull the killed worker had received but not started stays queued: requeued after 60 s.
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
}
# Fixed local standard time offsets of the provinces (the Datamart files are in LST).
LST = {"BC": -8, "YT": -8, "AB": -7, "NT": -7, "SK": -6, "MB": -6, "ON": -5, "QC": -5, "NU": -5,
       "NB": -4, "NS": -4, "PE": -4}


def usgs_numbers(count: int) -> list[str]:
    return [f"0{2_000_000 + i * 37:07d}" for i in range(count)]


def ec_stations(count: int) -> dict[str, str]:
    """EC stations from the reference list (their province comes from master_stations)."""
    chosen: dict[str, str] = {}
    with open(REPO / "data" / "master_stations.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["agency"] == "EC" and row["state_code"] in LST and len(chosen) < count:
                chosen[row["station_number"]] = row["state_code"]
    return chosen


# ------------------------------------------------------------------ the cluster


@dataclass
class Cluster:
    home: Path
    env: dict[str, str]
    replay: ReplayServer
    usgs: FakeUsgs
    eccc: FakeEccc
    now: datetime
    start: datetime
    configs: dict[str, int] = field(default_factory=dict)
    admin_token: str = ""

    @property
    def dotenv(self) -> dict[str, str]:
        return read_dotenv(self.home / ".env")

    @property
    def base_url(self) -> str:
        return self.dotenv["AIRFLOW_BASE_URL"]

    @property
    def streamflow_url(self) -> str:
        d = self.dotenv
        return make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=d["STREAMFLOW_DB_NAME"],
                                          username=d["STREAMFLOW_DB_USER"], password=d["STREAMFLOW_DB_PASSWORD"]
                                          ).render_as_string(hide_password=False)

    def sh(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run(["bash", str(REPO / "scripts" / "cluster.sh"), *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"cluster.sh {' '.join(args)}:\n{result.stderr[-4000:]}\n{self.diagnostics()}"
        return result

    def pid(self, name: str) -> int:
        return int((self.home / "pids" / name).read_text())

    def log(self, name: str) -> str:
        return (self.home / "logs" / f"{name}.log").read_text(errors="replace")

    def diagnostics(self) -> str:
        out = []
        for log in sorted((self.home / "logs").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()
            out.append(f"--- {log.name} ---\n" + "\n".join(lines[-25:]))
        return "\n".join(out)

    def token(self, username: str, password: str) -> str:
        response = requests.post(f"{self.base_url}/auth/token", json={"username": username, "password": password},
                                 timeout=30)
        assert response.status_code == 201, response.text
        return response.json()["access_token"]

    def api(self, method: str, path: str, *, token: str | None = "admin", **kwargs: Any) -> requests.Response:
        bearer = self.admin_token if token == "admin" else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=60, **kwargs)

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
                if last:
                    return last
            except requests.RequestException as exc:
                last = exc
            time.sleep(interval)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})\n{self.diagnostics()}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        out: list[dict] = []
        while True:
            body = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 100, "offset": len(out)}).json()
            out += body["task_instances"]
            if len(out) >= body["total_entries"] or not body["task_instances"]:
                return out


def _create_configuration(url: str, name: str, data_type: str, start: datetime, stations: list[dict]) -> int:
    from streamflow.db import repository as repo
    from streamflow.db.engine import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return repo.create_configuration(s, name=name, data_type=data_type, data_strategy="append",
                                             pull_start_date=start, schedule_type="manual", stations=stations).id
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    if not POSTGRES_URL:
        pytest.skip("STREAMFLOW_TEST_POSTGRES_URL is not set")
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    home = tmp_path_factory.mktemp("cluster") / "home"
    server = make_url(POSTGRES_URL)
    overrides = home.parent / "overrides.env"
    overrides.write_text("".join(f"{k}={v}\n" for k, v in OVERRIDES.items()))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = datetime.combine(now.date() - timedelta(days=DAYS), datetime.min.time(), UTC)
    with ReplayServer() as replay:
        usgs = FakeUsgs(replay, until=now)
        ec = ec_stations(EC_STATIONS)
        eccc = FakeEccc(replay, until=now, offsets={s: (p, LST[p]) for s, p in ec.items()},
                        hydat_lag=timedelta(days=20))
        # Like the real services under load; the same requests get the same answers on every run.
        replay.load("usgs", LoadProfile(latency=0.2, jitter=0.3, throttle_ratio=0.03, retry_after=1,
                                        unavailable_ratio=0.02, seed=14))
        replay.load("eccc", LoadProfile(latency=0.1, jitter=0.2, throttle_ratio=0.03, retry_after=1,
                                        unavailable_ratio=0.02, seed=14))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STREAMFLOW", "_AIRFLOW", "PG"))}
        env.update({
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "STREAMFLOW_CLUSTER_HOME": str(home),
            "STREAMFLOW_CLUSTER_NAME": f"sfcl_{secrets.token_hex(4)}",
            "STREAMFLOW_CLUSTER_OVERRIDES": str(overrides),
            "STREAMFLOW_CLUSTER_STOP_TIMEOUT": "180",
            "PGHOST": server.host or "127.0.0.1", "PGPORT": str(server.port or 5432),
            "PGUSER": server.username or "postgres", "PGDATABASE": server.database or "postgres",
            "STREAMFLOW_POOLS": " ".join(f"{k}={v}" for k, v in {**POOLS, "noaa_api": 4}.items()),
            "STREAMFLOW_TASK_RETRIES": "5",
            "STREAMFLOW_RETRY_DELAY_SECONDS": "1",
        })
        for conn_id in ("usgs_waterdata", "eccc_datamart", "eccc_wateroffice", "noaa_nwps"):
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "http", "host": replay.url})
        c = Cluster(home, env, replay, usgs, eccc, now, start)
        try:
            c.sh("up", timeout=900)
            url = c.streamflow_url
            c.configs["usgs"] = _create_configuration(url, "cluster USGS 200", "daily_mean", start,
                                                      [{"station_number": n} for n in usgs_numbers(USGS_STATIONS)])
            c.configs["ec"] = _create_configuration(url, "cluster EC 20", "daily_mean", start,
                                                    [{"station_number": n} for n in ec])
            c.configs["auth"] = _create_configuration(url, "cluster auth", "daily_mean", start,
                                                      [{"station_number": "01646500"}])
            c.admin_token = c.token(c.dotenv["STREAMFLOW_ADMIN_USER"], c.dotenv["STREAMFLOW_ADMIN_PASSWORD"])
            for config_id in c.configs.values():
                c.wait_for(f"DAG streamflow_config_{config_id}",
                           lambda i=config_id: c.api("GET", f"/api/v2/dags/streamflow_config_{i}").ok, 300, 2)
            yield c
        finally:
            groups = {p.name: int(p.read_text()) for p in (home / "pids").glob("*")} if (home / "pids").exists() else {}
            down = subprocess.run(["bash", str(REPO / "scripts" / "cluster.sh"), "down", "--purge"], env=env,
                                  capture_output=True, text=True, timeout=600, check=False,
                                  start_new_session=True)  # a Ctrl-C of the test does not stop the cleanup
            assert down.returncode == 0, down.stderr
            assert [name for name, pid in groups.items() if _group_alive(pid)] == [], "processes left behind"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# ------------------------------------------------------------------ environment and auth


def test_processes_started_through_the_compose_environment(cluster):
    """Each component was exec'd by docker/compose_env.py with its compose service's environment
    (which environment that is: test_compose.py); the test's overrides were applied and said so."""
    for name, service in {"api-server": "airflow-apiserver", "scheduler": "airflow-scheduler",
                          "dag-processor": "airflow-dag-processor", "triggerer": "airflow-triggerer",
                          "worker1": "airflow-worker", "worker2": "airflow-worker"}.items():
        log = cluster.log(name)
        for key in OVERRIDES:
            assert f"compose_env: {service}: {key} overridden" in log, (name, key)
    # The workers get no connection to Airflow's metadata database (they reach it through the API server).
    assert "SQL_ALCHEMY_CONN" not in cluster.sh("env", "airflow-worker").stdout


def test_fab_auth_refuses_anonymous_and_lets_roles_do_what_they_may(cluster):
    dag_id = f"streamflow_config_{cluster.configs['auth']}"
    passwords = {}
    for role in ("Viewer", "User", "Op"):
        username, passwords[role] = f"sf_{role.lower()}", secrets.token_urlsafe(12)
        created = cluster.api("POST", "/auth/fab/v1/users", json={
            "username": username, "email": f"{username}@example.org", "first_name": role, "last_name": "Tester",
            "roles": [{"name": role}], "password": passwords[role]})
        assert created.status_code == 200, created.text
    tokens = {role: cluster.token(f"sf_{role.lower()}", passwords[role]) for role in passwords}

    # Anonymous: nothing, and no token for a wrong password.
    assert cluster.api("GET", "/api/v2/dags", token=None).status_code == 401
    assert cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", token=None, json={"logical_date": None}).status_code == 401
    bad = requests.post(f"{cluster.base_url}/auth/token", json={"username": "sf_viewer", "password": "wrong"}, timeout=30)
    assert bad.status_code == 401
    # A Viewer reads but cannot trigger, pause or manage users.
    assert cluster.api("GET", f"/api/v2/dags/{dag_id}", token=tokens["Viewer"]).status_code == 200
    assert cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", token=tokens["Viewer"],
                       json={"logical_date": None}).status_code == 403
    assert cluster.api("PATCH", f"/api/v2/dags/{dag_id}", token=tokens["Viewer"],
                       json={"is_paused": False}).status_code == 403
    assert cluster.api("GET", "/auth/fab/v1/users", token=tokens["Viewer"]).status_code == 403
    # User and Op trigger runs (the DAG stays paused: the runs wait, nothing is pulled).
    for role in ("User", "Op"):
        response = cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", token=tokens[role], json={"logical_date": None})
        assert response.status_code == 200, (role, response.text)
    assert cluster.api("GET", "/auth/fab/v1/users", token=tokens["Op"]).status_code == 403  # Admin only
    runs = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns").json()
    assert runs["total_entries"] == 2


# ------------------------------------------------------------------ the run


class LockWaits:
    """Samples pg_stat_activity of the streamflow database for backends waiting on a lock."""

    def __init__(self, admin_url: str, database: str, interval: float = 0.1) -> None:
        self.engine = create_engine(make_url(admin_url).set(drivername="postgresql+psycopg"))
        self.database, self.interval = database, interval
        self.waits: dict[tuple, list[float]] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                rows = conn.execute(text(
                    "SELECT pid, query_start, wait_event FROM pg_stat_activity "
                    "WHERE datname = :db AND wait_event_type = 'Lock'"), {"db": self.database}).all()
                conn.rollback()
                moment = time.monotonic()
                self.samples += 1
                for row in rows:
                    self.waits.setdefault(tuple(row), [moment, moment])[1] = moment
                self._stop.wait(self.interval)

    def start(self) -> LockWaits:
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=10)
        self.engine.dispose()
        longest = max((last - first + self.interval for first, last in self.waits.values()), default=0.0)
        return {"lock_waits_seen": len(self.waits), "longest_lock_wait_s": round(longest, 2), "samples": self.samples}


def _wait_until_ready(cluster: Cluster, name: str) -> None:
    cluster.wait_for(f"{name} ready", lambda: f"{name}@" in cluster.log(name) and " ready." in cluster.log(name), 180)


@pytest.mark.timeout(1500)
def test_two_workers_share_the_pulls_survive_losses_and_respect_the_pools(cluster):
    started = time.monotonic()
    dags = {key: f"streamflow_config_{cluster.configs[key]}" for key in ("usgs", "ec")}
    runs = {}
    for key, dag_id in dags.items():
        assert cluster.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    for key, dag_id in dags.items():  # triggered together
        response = cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        assert response.status_code == 200, response.text
        runs[key] = response.json()["dag_run_id"]
    locks = LockWaits(POSTGRES_URL, cluster.dotenv["STREAMFLOW_DB_NAME"]).start()

    seen_on: set[str] = set()  # every worker a pull was seen running or done on

    def pulls() -> list[dict]:
        tis = [t for key in dags for t in cluster.task_instances(dags[key], runs[key]) if t["task_id"].startswith("pull_")]
        seen_on.update(t["hostname"] for t in tis if t["hostname"] and t["state"] in ("running", "success"))
        return tis

    # 1. Both workers take pulls; worker1 is SIGKILLed (with its task processes) while it holds some.
    def worker1_holds_pulls():
        tis = pulls()
        hosts = {t["hostname"] for t in tis if t["state"] in ("running", "success")}
        held = [t for t in tis if t["state"] == "running" and t["hostname"] == "worker1"]
        return held if {"worker1", "worker2"} <= hosts and held else None

    held = cluster.wait_for("pulls running on both workers", worker1_holds_pulls, 300, 0.5)
    cluster.sh("stop", "worker1", "KILL")
    killed = {(t["task_id"], t["map_index"]): t["try_number"] for t in held}

    # 2. The scheduler restarts mid-run.
    cluster.sh("stop", "scheduler", "TERM")
    cluster.sh("start", "scheduler")

    # 3. The killed pulls are detected (heartbeat timeout) and re-run by worker2.
    def rerun():
        now = {(t["task_id"], t["map_index"]): t for t in pulls()}
        done = [now[k] for k in killed if now[k]["state"] == "success"]
        return done if len(done) == len(killed) else None

    for ti in cluster.wait_for("the killed pulls to re-run", rerun, 300):
        key = (ti["task_id"], ti["map_index"])
        assert ti["try_number"] > killed[key], ti
        assert ti["hostname"] == "worker2", ti

    # 4. worker3 joins; worker2 gets a warm shutdown (SIGTERM) while it runs pulls: they finish.
    cluster.sh("start", "worker3")
    _wait_until_ready(cluster, "worker3")

    def worker2_runs_pulls():
        return [t for t in pulls() if t["state"] == "running" and t["hostname"] == "worker2"] or None

    running = cluster.wait_for("pulls running on worker2", worker2_runs_pulls, 300, 0.3)
    cluster.sh("stop", "worker2", "TERM", timeout=300)
    assert "Warm shutdown" in cluster.log("worker2") or "warm shutdown" in cluster.log("worker2").lower()
    after = {(t["task_id"], t["map_index"]): t for t in pulls()}
    for ti in running:
        now = after[(ti["task_id"], ti["map_index"])]
        assert (now["state"], now["try_number"], now["hostname"]) == ("success", ti["try_number"], "worker2"), now

    # 5. Both runs complete (on worker3).
    def finished():
        states = {key: cluster.api("GET", f"/api/v2/dags/{dags[key]}/dagRuns/{runs[key]}").json()["state"] for key in dags}
        return states if all(s in ("success", "failed") for s in states.values()) else None

    states = cluster.wait_for("both runs", finished, RUN_TIMEOUT, 2)
    wall = time.monotonic() - started
    lock_report = locks.stop()
    tis = pulls()
    assert states == {"usgs": "success", "ec": "success"}, [t for t in tis if t["state"] != "success"]
    assert {t["state"] for t in tis} == {"success"}
    assert len(tis) == USGS_STATIONS + EC_STATIONS
    hosts = {t["hostname"] for t in tis}
    assert {"worker2", "worker3"} <= hosts <= {"worker1", "worker2", "worker3"}
    assert seen_on == {"worker1", "worker2", "worker3"}, seen_on

    # The pools capped every service across all workers; the stand-in's 429/503 were retried.
    peak = dict(cluster.replay.max_in_flight)
    assert 1 < peak["usgs"] <= POOLS["usgs_api"], peak
    assert 1 <= peak["eccc"] <= POOLS["eccc_api"], peak
    errors = dict(cluster.replay.errors_sent)
    assert errors.get(("usgs", 429)) and errors.get(("usgs", 503)), errors

    # Rows equal a clean run's: exactly the stand-ins' series, once each; progress = last stored day.
    engine = create_engine(cluster.streamflow_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT s.station_number, o.observed_at, o.discharge FROM discharge_observations o "
                "JOIN stations s ON s.id = o.station_id")).all()
            progress = dict(conn.execute(text(
                "SELECT station_number, last_successful_pull_date FROM pull_station_progress "
                "WHERE config_id IN (:u, :e)"), {"u": cluster.configs["usgs"], "e": cluster.configs["ec"]}).all())
            logs = conn.execute(text("SELECT config_id, status, stations_total, stations_failed FROM data_pull_logs "
                                     "WHERE config_id IN (:u, :e) ORDER BY config_id"),
                                {"u": cluster.configs["usgs"], "e": cluster.configs["ec"]}).all()
    finally:
        engine.dispose()
    stored: dict[str, dict[datetime, float]] = {}
    for station, observed_at, discharge in rows:
        assert observed_at not in stored.setdefault(station, {}), (station, observed_at)  # no duplicates
        stored[station][observed_at] = discharge
    usgs_numbers_ = usgs_numbers(USGS_STATIONS)
    keys = cluster.usgs.daily_keys(cluster.start.date(), cluster.now.date())
    for station in usgs_numbers_:
        got = {at.date().isoformat(): value for at, value in stored.get(station, {}).items()}
        expected = {key: cluster.usgs.value(station, key) for key in keys}
        assert got == expected, station
    for station in ec_stations(EC_STATIONS):
        days = sorted(at.date() for at in stored.get(station, {}))
        assert days, station
        assert all((b - a).days == 1 for a, b in zip(days, days[1:])), (station, "gap")  # no gaps
    for station, instants in stored.items():
        if station in progress:
            assert progress[station] == max(instants), station
    assert set(progress) == set(usgs_numbers_) | set(ec_stations(EC_STATIONS))
    assert [(status, total, failed) for _config, status, total, failed in logs] == [
        ("success", USGS_STATIONS, 0), ("success", EC_STATIONS, 0)]

    # Both workers wrote at once to the streamflow database without long lock waits.
    assert lock_report["longest_lock_wait_s"] < 5.0, lock_report
    summary = {"wall_s": round(wall, 1), "peak_in_flight": peak, "pools": POOLS,
               "errors_sent": {f"{s} {c}": n for (s, c), n in errors.items()}, "killed": len(killed),
               "warm_shutdown_finished": len(running), "final_hosts": sorted(hosts), "hosts_seen": sorted(seen_on),
               **lock_report}
    print(f"\nCLUSTER-SUMMARY {json.dumps(summary)}")
    (cluster.home.parent / "summary.json").write_text(json.dumps(summary))
