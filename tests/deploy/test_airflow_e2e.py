"""End to end over the real Airflow: API server, scheduler and DAG processor as processes on
loopback, driven through the REST API (/api/v2) the way an operator or a script would.

The deployment is initialised by docker/init.sh (the script the compose deployment and
scripts/run.sh run) on a temporary Airflow home and a temporary SQLite streamflow database; the
configuration is created with the `streamflow` CLI; NOAA NWPS is the local replay server,
reached through the AIRFLOW_CONN_NOAA_NWPS variable the Airflow processes inherit.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from streamflow.db.engine import make_engine, session_scope
from streamflow.db.models import DataPullLog, ForecastRun, Station
from streamflow.testing.replay import ReplayServer, fixture_bytes

pytestmark = pytest.mark.slow

UTC = timezone.utc
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN = "admin"
FORECAST_PATH = "/nwps/v1/gauges/FIHM1/stageflow/forecast"  # 01013500 -> FIHM1 in data/hads_id_mappings.csv
STATIONS = ("01013500", "01646500")  # the run asks for the first only
START_TIMEOUT = 180.0
RUN_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class AirflowStack:
    base_url: str
    streamflow_url: str
    env: dict[str, str]
    replay: ReplayServer
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str | None = None
    config_id: int = 0

    # ------------------------------------------------------------------ set-up, as the deployment does it

    def initialise(self) -> subprocess.CompletedProcess[str]:
        """Run docker/init.sh (migrations, reference data, users, pools) with this stack's environment."""
        init = subprocess.run(["bash", str(REPO / "docker" / "init.sh")], env=self.env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert init.returncode == 0, f"docker/init.sh failed:\n{init.stdout}\n{init.stderr}"
        return init

    def create_configuration(self, *args: str) -> int:
        """``streamflow config create ARGS``; returns the new configuration's id."""
        created = subprocess.run([str(BIN / "streamflow"), "config", "create", *args], env=self.env,
                                 capture_output=True, text=True, timeout=120, check=False)
        assert created.returncode == 0, created.stderr
        return int(re.search(r"created configuration (\d+)", created.stdout).group(1))

    # ------------------------------------------------------------------ processes

    def start(self, name: str, *args: str) -> None:
        with open(self.logs / f"{name}.log", "wb") as handle:
            self.processes[name] = subprocess.Popen(
                [str(BIN / "airflow"), *args], env=self.env, cwd=self.logs, stdout=handle, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops what it forked
            )

    def stop(self) -> list[str]:
        """SIGTERM every process group, SIGKILL what is left after 30 s; returns the groups that needed it."""
        for proc in self.processes.values():
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        killed = []
        for name, proc in self.processes.items():
            proc.poll()  # reap the leader: a zombie would still count as a member of its group
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
                proc.poll()
            if _group_alive(proc.pid):
                killed.append(name)
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        return killed

    @contextmanager
    def running(self) -> Iterator[AirflowStack]:
        """API server, scheduler and DAG processor up and logged in; all stopped (and checked gone) after."""
        try:
            self.start("api-server", "api-server")
            self.start("scheduler", "scheduler", "--skip-serve-logs")
            self.start("dag-processor", "dag-processor")
            self.wait_for("the API server", lambda: requests.get(
                f"{self.base_url}/api/v2/monitor/health", timeout=5).ok, START_TIMEOUT)
            self.login()
            yield self
        finally:
            killed = self.stop()
            if killed:
                warnings.warn(f"{', '.join(killed)} needed SIGKILL after 30 s of SIGTERM", stacklevel=1)
            alive = [name for name, proc in self.processes.items() if _group_alive(proc.pid)]
            assert alive == [], f"processes left behind: {alive}"

    def diagnostics(self) -> str:
        parts = [f"--- {name} (exit {proc.poll()}) ---\n{_tail(self.logs / f'{name}.log')}"
                 for name, proc in self.processes.items()]
        return "\n".join(parts)

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead:
                pytest.fail(f"{', '.join(dead)} exited while waiting for {what}\n{self.diagnostics()}")
            try:
                last = check()
                if last:
                    return last
            except requests.RequestException as exc:
                last = exc
            time.sleep(interval)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})\n{self.diagnostics()}")

    # ------------------------------------------------------------------ REST API

    def api(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        headers = {**({"Authorization": f"Bearer {self.token}"} if self.token else {}), **(headers or {})}
        return requests.request(method, f"{self.base_url}/api/v2{path}", headers=headers, timeout=30, **kwargs)

    def login(self) -> None:
        passwords = json.loads(Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
        response = requests.post(
            f"{self.base_url}/auth/token", json={"username": ADMIN, "password": passwords[ADMIN]}, timeout=30
        )
        assert response.status_code == 201, response.text
        self.token = response.json()["access_token"]


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _environment(home: Path, port: int, replay_url: str, streamflow_url: str) -> dict[str, str]:
    """Only what we set: nothing Airflow- or streamflow-related leaks in from the shell or conftest."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STREAMFLOW", "_AIRFLOW"))}
    base_url = f"http://127.0.0.1:{port}"
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "airflow" / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,  # also where the executor finds the execution API
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),  # one secret for every process
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "STREAMFLOW_HOME": str(home / "streamflow"),
        "STREAMFLOW_DATABASE_URL": streamflow_url,
        "STREAMFLOW_SNAPSHOT_PATH": str(home / "airflow" / "snapshot.json"),
        "STREAMFLOW_TASK_RETRIES": "0",
        "STREAMFLOW_ADMIN_USER": ADMIN,
        "TZ": "America/Denver",
    })
    for conn_id in ("usgs_waterdata", "eccc_datamart", "eccc_wateroffice", "noaa_nwps"):
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "http", "host": replay_url})
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[AirflowStack]:
    home = tmp_path_factory.mktemp("airflow_e2e")
    (home / "logs").mkdir()
    streamflow_url = f"sqlite:///{home / 'streamflow' / 'streamflow.db'}"
    port = _free_port()
    with ReplayServer() as replay:
        replay.add(FORECAST_PATH, fixture_bytes("noaa/stageflow_FIHM1.json"),
                   headers={"Content-Type": "application/json"})
        env = _environment(home, port, replay.url, streamflow_url)
        stack = AirflowStack(f"http://127.0.0.1:{port}", streamflow_url, env, replay, home / "logs")

        stack.initialise()
        stack.config_id = stack.create_configuration(
            "--name", "e2e RFC forecast", "--data-type", "rfc_forecast", "--start", "2026-01-01",
            "--schedule", "manual", *[a for s in STATIONS for a in ("--station", s)],
        )

        with stack.running():
            yield stack


def test_configuration_dags_are_listed(stack):
    dag_id = f"streamflow_config_{stack.config_id}"

    def listed():
        body = stack.api("GET", "/dags", params={"dag_id_pattern": "streamflow_config_"}).json()
        return body if body["total_entries"] else None

    body = stack.wait_for("the DAG processor to list our DAG", listed, START_TIMEOUT)
    (dag,) = body["dags"]
    assert dag["dag_id"] == dag_id
    assert dag["dag_display_name"] == "e2e RFC forecast"
    assert dag["is_paused"] is True  # new DAGs start paused
    assert {t["name"] for t in dag["tags"]} >= {"streamflow", "rfc_forecast", "append", "USGS"}
    assert stack.api("GET", "/dags").status_code == 200
    assert requests.get(f"{stack.base_url}/api/v2/dags", timeout=30).status_code == 401  # authenticated only


def test_every_process_listens_on_loopback_only(stack):
    import psutil

    groups = {proc.pid for proc in stack.processes.values()}
    listening = set()
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) not in groups:
                continue
            listening |= {(c.laddr.ip, c.laddr.port) for c in process.net_connections(kind="inet")
                          if c.status == psutil.CONN_LISTEN}
        except (psutil.Error, ProcessLookupError):
            continue
    port = int(stack.base_url.rsplit(":", 1)[1])
    assert ("127.0.0.1", port) in listening
    assert {ip for ip, _port in listening} <= {"127.0.0.1", "::1"}, listening  # docs/architecture.md#trap-standalone-bind: not 0.0.0.0


def test_invalid_conf_is_refused_with_the_validation_message(stack):
    dag_id = f"streamflow_config_{stack.config_id}"
    stack.wait_for("the DAG", lambda: stack.api("GET", f"/dags/{dag_id}").ok, START_TIMEOUT)

    response = stack.api("POST", f"/dags/{dag_id}/dagRuns",
                         json={"logical_date": None, "conf": {"data_strategy": "bogus"}})

    assert response.status_code in (400, 422), response.text
    assert "data_strategy" in response.text and "bogus" in response.text
    runs = stack.api("GET", f"/dags/{dag_id}/dagRuns").json()
    assert runs["total_entries"] == 0  # nothing was created


def test_triggered_run_with_overrides_stores_its_rows(stack):
    dag_id = f"streamflow_config_{stack.config_id}"
    stack.wait_for("the DAG", lambda: stack.api("GET", f"/dags/{dag_id}").ok, START_TIMEOUT)
    assert stack.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    start_date = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    conf = {"stations": ["01013500"], "start_date": start_date.isoformat().replace("+00:00", "Z")}

    response = stack.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    assert response.json()["conf"] == conf

    def finished():
        state = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state = stack.wait_for(f"run {run_id}", finished, RUN_TIMEOUT)
    tasks = {(t["task_id"], t["map_index"]): t["state"]
             for t in stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]}
    assert state == "success", f"{tasks}\n{stack.diagnostics()}"
    assert tasks == {("plan", -1): "success", ("pull_noaa", 0): "success", ("finalize", -1): "success"}

    # The overrides reached the task: plan's log (read through the API, as an operator would).
    log = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/plan/logs/1",
                    headers={"Accept": "application/json"})
    assert log.status_code == 200, log.text
    (planned,) = [e["event"] for e in log.json()["content"] if "pulls 1 station(s)" in str(e.get("event"))]
    assert f"run {run_id} pulls 1 station(s): 01013500" in planned
    assert f"'start_date': '{conf['start_date']}'" in planned

    # Only the requested station was asked for; the forecast is stored once, in cfs.
    assert len(stack.replay.requests_to(FORECAST_PATH)) == 1
    assert [r.path for r in stack.replay.requests if "BRKM2" in r.path] == []
    engine = make_engine(stack.streamflow_url)
    try:
        with session_scope(engine) as s:
            runs = s.execute(
                select(Station.station_number, ForecastRun.source, ForecastRun.run_date, ForecastRun.unit,
                       ForecastRun.data).join(Station, Station.id == ForecastRun.station_id)
            ).all()
            (log,) = s.execute(select(DataPullLog)).scalars().all()
            log_row = (log.dag_id, log.dag_run_id, log.status, log.stations_total, log.stations_failed,
                       sorted(log.details))
    finally:
        engine.dispose()
    ((station, source, run_date, unit, data),) = runs
    assert (station, source, run_date, unit) == ("01013500", "NOAA_RFC", datetime(2026, 11, 20, 13, 42, tzinfo=UTC),
                                                 "cfs")
    # stageflow_FIHM1.json: 8 points; the two with secondary -999 are dropped; kcfs x 1000, by valid time.
    assert [point["value"] for point in data] == [4210.0, 4430.0, 5020.0, 5180.0, 4670.0, 3950.0]
    assert log_row == (dag_id, run_id, "success", 1, 0, ["01013500"])
