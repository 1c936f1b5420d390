"""Drills through Airflow itself: ``dag.test()`` of a USGS configuration against the stand-in.

* Does ``dag.test()`` honour task retries? With ``STREAMFLOW_TASK_RETRIES=2`` and
  ``STREAMFLOW_RETRY_DELAY_SECONDS=0`` a 503 on chunk 2 of a station must be retried by Airflow
  (the mapped task instance runs again, resumes from progress) and the run must succeed with
  complete data.
* A malformed payload for one station fails that station's task at once (no retry: the retry
  policy says permanent), the other station completes, and the run ends failed with a message
  naming the source and the failed station.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog
from streamflow.factory import build_dags
from tests.drills.support import STATION, chunk_ends, covering, create_config, expected_daily, progress, stored
from streamflow.testing.replay import Response

OTHER = "02458502"


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setenv("STREAMFLOW_TASK_RETRIES", "2")
    monkeypatch.setenv("STREAMFLOW_RETRY_DELAY_SECONDS", "0")


def _run(engine, config_id):
    with session_scope(engine) as s:
        rows = repo.load_configuration_rows(s)
    dag = build_dags(rows)[f"streamflow_config_{config_id}"]
    return dag, dag.test()


def _log(engine, config_id):
    with session_scope(engine) as s:
        return s.execute(select(DataPullLog).where(DataPullLog.config_id == config_id)).scalars().one()


def _tries(run, task_id: str) -> dict[str, int]:
    return {ti.map_index: ti.try_number for ti in run.get_task_instances() if ti.task_id == task_id}


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_dag_test_retries_a_transient_failure_and_completes(airflow_db, engine, fake, faults, fast_retries):
    # dag.test() pulls up to the real now; the stand-in has data until UNTIL (2026-01-31).
    config_id = create_config(engine)
    faults.inject(covering(date(2005, 1, 1), page=1), Response(503, {"code": "ServiceUnavailable", "description": "x"}))
    dag, run = _run(engine, config_id)
    assert dag.task_dict["pull_usgs"].retries == 2
    assert len(faults.injected) == 1
    assert run.state == "success", _log(engine, config_id).error_message
    assert _tries(run, "pull_usgs") == {0: 2}  # the mapped task ran twice: the retry resumed
    until = fake.until.date()
    assert stored(engine) == expected_daily(fake, STATION, last=until)
    assert progress(engine, config_id).date() == until
    log = _log(engine, config_id)
    assert (log.status, log.stations_failed) == ("success", 0)


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_dag_test_malformed_payload_fails_only_that_station(airflow_db, engine, fake, faults, fast_retries):
    config_id = create_config(engine, stations=(STATION, OTHER))
    faults.inject(
        lambda r: r.arg("monitoring_location_id") == f"USGS-{STATION}" and covering(date(2005, 1, 1), page=1)(r),
        Response(200, "<html>maintenance</html>", headers={"Content-Type": "application/geo+json"}),
    )
    _dag, run = _run(engine, config_id)
    assert run.state == "failed"
    tries = _tries(run, "pull_usgs")
    assert sorted(tries.values()) == [1, 1]  # permanent: no retry of the failed station
    log = _log(engine, config_id)
    assert (log.status, log.stations_failed) == ("failed", 1)
    assert log.error_message.startswith(f"1 of 2 station(s) failed: {STATION}: usgs: station {STATION}: answer could not be parsed")
    assert log.details[OTHER]["status"] == "success"
    until = fake.until.date()
    assert stored(engine, OTHER) == expected_daily(fake, OTHER, last=until)
    # The failed station keeps chunk 1 (committed before the bad page) and nothing of chunk 2.
    assert progress(engine, config_id) == chunk_ends()[0]
    assert stored(engine) == expected_daily(fake, STATION, last=chunk_ends()[0].date())
