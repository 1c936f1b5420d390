"""The streamflow database going away mid-run fails the pull without corrupting progress; the next
run resumes from the last committed chunk and ends with exactly the clean rows.

* PostgreSQL, between chunks: while chunk 3 is being fetched the database stops accepting
  connections (``ALTER DATABASE … ALLOW_CONNECTIONS false``) and every session is terminated
  (``pg_terminate_backend``); the pool's pre-ping cannot reconnect, so chunk 3's write fails.
* PostgreSQL, inside a chunk's transaction: the pull's backend is terminated after it stored
  chunk 3's rows and while it waits (on a progress-row lock the test holds) to record progress;
  the rows must vanish with the transaction.
* SQLite: from chunk 3 on every connection is read-only (``PRAGMA query_only``; the tests run as
  root, for whom a ``chmod`` does not make a file unwritable) — the write fails with SQLite's
  "attempt to write a readonly database", exactly what an unwritable file gives.

The error is not one of ours, so ``StreamflowRetryPolicy`` leaves the decision to Airflow's
retries (``RetryAction.DEFAULT``); the operator records it as a retryable failure.
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from airflow.sdk.definitions.retry_policy import RetryAction
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from streamflow.retry import StreamflowRetryPolicy
from tests.conftest import POSTGRES_URL
from tests.drills.support import (
    STATION,
    ProgressRowLock,
    chunk_ends,
    covering,
    create_config,
    expected_daily,
    progress,
    pull,
    stored,
)
from streamflow.testing.replay import Request


def _admin():
    return create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


def _allow_connections(db_url: str, allowed: bool) -> None:
    name = make_url(db_url).database
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                {"d": name},
            )
    admin.dispose()


def _once(match):
    """A gate that fires ``action`` once, on the first request ``match`` accepts."""
    fired = threading.Event()

    def gate(action):
        def hook(request: Request) -> None:
            if not fired.is_set() and match(request):
                fired.set()
                action()

        return hook

    return fired, gate


def _assert_failed_and_resumes(engine, fake, config_id, raised: BaseException) -> None:
    ends = chunk_ends()
    assert isinstance(raised, DBAPIError), repr(raised)
    assert StreamflowRetryPolicy().evaluate(raised, try_number=1, max_tries=4).action == RetryAction.DEFAULT
    # Progress is the last committed chunk; the rows are exactly the clean ones up to it.
    assert progress(engine, config_id) == ends[1]
    assert stored(engine) == expected_daily(fake, STATION, last=ends[1].date())
    outcome = pull(engine, config_id)
    assert outcome.status == "success" and outcome.chunks_done == 2
    assert stored(engine) == expected_daily(fake, STATION)
    assert progress(engine, config_id) == ends[-1]


@pytest.mark.postgres
@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_postgresql_refusing_connections_between_chunks(engine, db_url, fake, faults):
    config_id = create_config(engine)
    fired, gate = _once(covering(date(2015, 1, 1), page=1))
    faults.on_request.append(gate(lambda: _allow_connections(db_url, False)))
    try:
        with pytest.raises(DBAPIError, match="not currently accepting connections|terminating connection") as info:
            pull(engine, config_id)
        assert fired.is_set()
    finally:
        _allow_connections(db_url, True)
    engine.dispose()  # the pool's dead connections
    _assert_failed_and_resumes(engine, fake, config_id, info.value)


@pytest.mark.postgres
@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_postgresql_backend_terminated_inside_a_chunk_transaction(engine, db_url, fake, faults):
    config_id = create_config(engine)
    terminated: list[bool] = []  # what pg_terminate_backend answered, one entry per waiting backend

    def terminate_the_writer() -> None:
        lock = ProgressRowLock(db_url, config_id)
        try:
            deadline = time.monotonic() + 60
            while not lock.writer_waiting():  # chunk 3's rows are in, progress is next
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
            terminated.extend(
                lock.connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )
        finally:
            lock.release()

    terminator = threading.Thread(target=terminate_the_writer, daemon=True)
    _fired, gate = _once(covering(date(2015, 1, 1), page=4))  # chunk 3's last page
    faults.on_request.append(gate(terminator.start))

    with pytest.raises(DBAPIError, match="terminating connection due to administrator command") as info:
        pull(engine, config_id)
    # The pull's error can reach this thread before the terminator has recorded its answer.
    terminator.join(timeout=60)
    assert not terminator.is_alive()
    assert terminated == [True]
    engine.dispose()
    _assert_failed_and_resumes(engine, fake, config_id, info.value)


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_sqlite_becoming_unwritable_between_chunks(engine, fake, faults):
    config_id = create_config(engine)

    def read_only(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    fired, gate = _once(covering(date(2015, 1, 1), page=1))
    faults.on_request.append(gate(lambda: event.listen(engine, "checkout", read_only)))
    try:
        with pytest.raises(DBAPIError, match="attempt to write a readonly database") as info:
            pull(engine, config_id)
        assert fired.is_set()
    finally:
        event.remove(engine, "checkout", read_only)
    engine.dispose()  # connections that were switched to read-only
    _assert_failed_and_resumes(engine, fake, config_id, info.value)
