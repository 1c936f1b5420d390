"""The Streamflow plugin app inside Airflow's real API app, with a JWT per role.

Built the way Airflow's own API tests do it: a migrated metadata database, the app from
``airflow.api_fastapi.app.create_app()`` (which mounts every plugin's FastAPI app, ours through its
entry point), and tokens minted by the auth manager for one user per SimpleAuthManager role.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

ROLES = ("viewer", "user", "op", "admin")
AUTH_ENV = {
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{r}:{r}" for r in ROLES),
    "AIRFLOW__API_AUTH__JWT_SECRET": "streamflow-test-jwt-secret-0123456789abcdef0123456789abcdef0123456789abcdef",
    "AIRFLOW__API__SECRET_KEY": "streamflow-test-secret-key",
}
BASE_URL = "http://127.0.0.1:8080"  # the Host the test client sends; CSRF checks compare Origin with it


@pytest.fixture(scope="session")
def airflow_app(airflow_db):
    os.environ.update(AUTH_ENV)
    from airflow.api_fastapi.app import create_app, purge_cached_app

    purge_cached_app()
    app = create_app()
    yield app
    purge_cached_app()


@pytest.fixture(scope="session")
def tokens(airflow_app) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = get_auth_manager()
    return {role: manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role)) for role in ROLES}


@pytest.fixture
def client(airflow_app, db_url) -> Iterator:
    """A test client against Airflow's app; the streamflow database is a fresh migrated one."""
    from fastapi.testclient import TestClient

    with TestClient(airflow_app, base_url=BASE_URL) as c:
        yield c


def as_role(client, tokens, role: str):
    """Authenticate ``client`` like the browser does: the UI's ``_token`` cookie."""
    client.cookies.set("_token", tokens[role])
    return client


def bearer(tokens, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


# --------------------------------------------------------------------------- read API (issue 12)


class FilledDatabase:
    """A streamflow database filled once through the project's own pulls (``dag.test()`` against the
    replay server's stand-in services), plus what those services served, to compute expected values."""

    def __init__(self, kind: str, url: str, now, usgs, eccc, config_ids: dict[str, int]) -> None:
        self.kind, self.url, self.now, self.usgs, self.eccc, self.config_ids = kind, url, now, usgs, eccc, config_ids


MASTER_STATIONS = [
    # station_number, name, lat, lon, state, huc, altitude_ft, drainage_area_sqmi, agency
    ("01646500", "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA", 38.9497, -77.1275, "MD", "02070008", 37.2, 11560.0, "USGS"),
    ("01638500", "POTOMAC RIVER AT POINT OF ROCKS, MD", 39.2737, -77.5431, "MD", "02070008", 190.0, 9651.0, "USGS"),
    ("09380000", "COLORADO RIVER AT LEES FERRY, AZ", 36.8647, -111.5878, "AZ", "14070006", 3106.0, 111800.0, "USGS"),
    ("08MF005", "FRASER RIVER AT HOPE", 49.38, -121.45, "BC", None, None, 83800.0, "EC"),
]


# Observations of the RFC forecast's gauge (01013500): 3 days before its issue time (persistence) to
# past its last valid time (2026-11-22 06:00 UTC).
RFC_OBSERVED = (datetime(2026, 11, 17, tzinfo=timezone.utc), datetime(2026, 11, 23, tzinfo=timezone.utc))


def fill_through_pulls(url: str, kind: str, home) -> FilledDatabase:
    """Four configurations pulled with dag.test() — USGS daily means, USGS + EC real time, an RFC
    forecast and the real-time observations of its gauge — then the verification DAG run by hand."""
    import json
    from datetime import datetime, timedelta, timezone

    from streamflow.db import repository as repo
    from streamflow.db.engine import dispose_engines, get_engine, session_scope
    from streamflow.db.models import MasterStation, StationMapping
    from streamflow.factory import build_dags
    from streamflow.testing.fakes.eccc import FakeEccc
    from streamflow.testing.fakes.usgs import FakeUsgs
    from streamflow.testing.replay import ReplayServer, fixture_bytes
    from tests.conftest import SERVICE_CONNECTIONS

    utc = timezone.utc
    now = datetime.now(utc).replace(second=0, microsecond=0)
    with pytest.MonkeyPatch.context() as mp, ReplayServer() as server:
        mp.setenv("STREAMFLOW_DATABASE_URL", url)
        mp.setenv("STREAMFLOW_HOME", str(home))
        mp.setenv("STREAMFLOW_SNAPSHOT_PATH", str(home / "configurations_snapshot.json"))
        for conn_id in SERVICE_CONNECTIONS:
            conn = {"conn_type": "http", "host": server.url}
            if conn_id == "usgs_waterdata":
                conn["extra"] = {"retries": 0}
            mp.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        usgs = FakeUsgs(server, until=now - timedelta(hours=1))
        eccc = FakeEccc(server, until=now - timedelta(hours=2))
        server.add("/nwps/v1/gauges/FIHM1/stageflow/forecast", fixture_bytes("noaa/stageflow_FIHM1.json"),
                   headers={"Content-Type": "application/json"})
        engine = get_engine(url)
        day = now.replace(hour=0, minute=0)
        with session_scope(engine) as s:
            for number, name, lat, lon, state, huc, alt, area, agency in MASTER_STATIONS:
                s.add(MasterStation(station_number=number, station_name=name, latitude=lat, longitude=lon,
                                    state_code=state, huc_code=huc, altitude_ft=alt, drainage_area_sqmi=area,
                                    agency=agency))
            s.add(StationMapping(source_agency="USGS", source_id="01013500", target_agency="NOAA-HADS", target_id="FIHM1"))
            common = {"data_strategy": "append", "schedule_type": "daily"}
            ids = {
                "daily": repo.create_configuration(
                    s, name="api daily", data_type="daily_mean", pull_start_date=datetime(2025, 1, 1, tzinfo=utc),
                    stations=[{"station_number": "01646500"}], **common).id,
                "realtime": repo.create_configuration(
                    s, name="api realtime", data_type="realtime_15min", pull_start_date=day - timedelta(days=2),
                    stations=[{"station_number": "01646500"}, {"station_number": "08MF005"}], **common).id,
                "rfc": repo.create_configuration(
                    s, name="api rfc", data_type="rfc_forecast", pull_start_date=datetime(2026, 1, 1, tzinfo=utc),
                    stations=[{"station_number": "01013500"}], **common).id,
                # the gauge the RFC forecast is for, observed over the forecast's horizon (verification)
                "rfc_observed": repo.create_configuration(
                    s, name="api rfc observed", data_type="realtime_15min",
                    pull_start_date=RFC_OBSERVED[0], stations=[{"station_number": "01013500"}], **common).id,
            }
        with session_scope(engine) as s:
            rows = repo.load_configuration_rows(s)
        dags = build_dags(rows)
        window = {"start_date": RFC_OBSERVED[0].isoformat(), "end_date": RFC_OBSERVED[1].isoformat()}
        for name, config_id in ids.items():
            run = dags[f"streamflow_config_{config_id}"].test(run_conf=window if name == "rfc_observed" else None)
            if run.state != "success":
                raise RuntimeError(f"filling the API test database: the {name} pull ended {run.state}")
        # the verification DAG by hand over the observed window (scheduled runs follow asset events)
        run = dags["streamflow_verification"].test(run_conf={"stations": ["01013500"], **window})
        if run.state != "success":
            raise RuntimeError(f"filling the API test database: the verification run ended {run.state}")
        dispose_engines()
    return FilledDatabase(kind, url, now, usgs, eccc, ids)


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def filled_db(request, airflow_db, tmp_path_factory) -> Iterator[FilledDatabase]:
    """One database of each kind filled through the pulls, shared by the read-API tests (never written by them)."""
    from streamflow.db import migrate
    from streamflow.db.engine import dispose_engines, make_engine
    from tests.conftest import POSTGRES_URL, _drop_postgres_database, _postgres_database

    home = tmp_path_factory.mktemp(f"api_filled_{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'streamflow.db'}"
    elif not POSTGRES_URL:
        pytest.skip("STREAMFLOW_TEST_POSTGRES_URL is not set")
    else:
        url = _postgres_database("sf_api")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield fill_through_pulls(url, request.param, home)
    finally:
        dispose_engines()
        if request.param == "postgresql":
            _drop_postgres_database(url)


@pytest.fixture
def api(airflow_app, tokens, filled_db, monkeypatch) -> Iterator:
    """A viewer's client (bearer token) on Airflow's app, reading the filled database."""
    from fastapi.testclient import TestClient

    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", filled_db.url)
    with TestClient(airflow_app, base_url=BASE_URL, headers=bearer(tokens, "viewer")) as c:
        yield c
