"""discharge_observations.station_id always names a station (ADR 0005).

SQLite enforces it with the declarative foreign key; PostgreSQL (revision 0007) with statement-level
triggers. Both must refuse the same things, and on PostgreSQL the triggers must also hold when two
transactions race (the KEY SHARE lock of the per-row check, taken once per statement).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from streamflow.db.models import DischargeObservation, Station

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FOREIGN_KEY_VIOLATION = "23503"


def _station(session, number: str) -> int:
    station = Station(station_number=number, name=f"station {number}", agency="USGS")
    session.add(station)
    session.flush()
    return station.id


def _row(station_id: int, i: int = 0) -> dict:
    return {
        "station_id": station_id, "observed_at": T0 + timedelta(minutes=15 * i), "discharge": 1.0 + i,
        "unit": "cfs", "type": "realtime_15min", "quality_code": "P",
    }


def _observations(session, station_id: int | None = None) -> int:
    query = select(func.count()).select_from(DischargeObservation)
    if station_id is not None:
        query = query.where(DischargeObservation.station_id == station_id)
    return session.execute(query).scalar_one()


def _refused(excinfo, postgresql: bool, *names: str) -> None:
    """On PostgreSQL: SQLSTATE 23503 and a message naming what was wrong."""
    if not postgresql:
        return
    orig = excinfo.value.orig
    assert orig.sqlstate == FOREIGN_KEY_VIOLATION
    for name in names:
        assert name in str(orig)


def _is_postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def test_observation_of_a_missing_station_is_refused_and_leaves_nothing(session):
    good = _station(session, "01646500")
    session.commit()
    missing = good + 1000

    with pytest.raises(IntegrityError) as excinfo:
        session.execute(insert(DischargeObservation).values(_row(missing)))
    _refused(excinfo, _is_postgresql(session), f"station_id {missing} not present in stations")
    session.rollback()
    assert _observations(session) == 0

    session.execute(insert(DischargeObservation).values(_row(good)))  # the check refuses only what is wrong
    session.commit()
    assert _observations(session, good) == 1


def test_multi_row_insert_with_one_bad_station_fails_as_a_whole(session):
    good = _station(session, "01646500")
    session.commit()
    rows = [_row(good, 0), _row(good, 1), _row(good + 7, 2), _row(good, 3)]

    with pytest.raises(IntegrityError) as excinfo:
        session.execute(insert(DischargeObservation).values(rows))  # one INSERT … VALUES statement
    _refused(excinfo, _is_postgresql(session), f"station_id {good + 7} ")
    session.rollback()
    assert _observations(session) == 0


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_message_lists_at_most_ten_missing_ids(session):
    good = _station(session, "01646500")
    session.commit()
    missing = [good + 100 + i for i in range(12)]

    with pytest.raises(IntegrityError) as excinfo:
        session.execute(insert(DischargeObservation).values([_row(s, i) for i, s in enumerate(missing)]))
    listed = ", ".join(str(s) for s in missing[:10])
    _refused(excinfo, True, f"discharge_observations: station_id {listed} (and 2 more) not present in stations")


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_copy_into_observations_checks_stations(engine):
    import psycopg

    with engine.begin() as conn:
        good = conn.execute(
            insert(Station).values(station_number="01646500", name="x", agency="USGS").returning(Station.id)
        ).scalar_one()
    columns = "station_id, observed_at, discharge, unit, type, quality_code"

    def copy(rows) -> None:
        raw = engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()
            with cursor, cursor.copy(f"COPY discharge_observations ({columns}) FROM STDIN") as copy_:
                for row in rows:
                    copy_.write_row([row[c] for c in columns.split(", ")])
            raw.commit()
        finally:
            raw.close()

    with pytest.raises(psycopg.errors.ForeignKeyViolation, match=f"station_id {good + 5} not present"):
        copy([_row(good, 0), _row(good + 5, 1), _row(good, 2)])
    copy([_row(good, 0), _row(good, 1)])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DischargeObservation)).scalar_one() == 2


def test_deleting_a_station_with_observations_fails_without_succeeds(session):
    used = _station(session, "01646500")
    unused = _station(session, "08MF005")
    session.execute(insert(DischargeObservation).values(_row(used)))
    session.commit()

    with pytest.raises(IntegrityError) as excinfo:
        session.execute(delete(Station).where(Station.id == used))
    _refused(excinfo, _is_postgresql(session), f"stations: id {used} is still referenced by discharge_observations")
    session.rollback()

    session.execute(delete(Station).where(Station.id == unused))
    session.commit()
    assert session.execute(select(Station.id).order_by(Station.id)).scalars().all() == [used]
    assert _observations(session, used) == 1


def test_updating_a_referenced_station_id_fails_other_updates_succeed(session):
    used = _station(session, "01646500")
    unused = _station(session, "08MF005")
    session.execute(insert(DischargeObservation).values(_row(used)))
    session.commit()

    with pytest.raises(IntegrityError) as excinfo:
        session.execute(update(Station).where(Station.id == used).values(id=used + 1000))
    _refused(excinfo, _is_postgresql(session), f"stations: id {used} is still referenced")
    session.rollback()

    # A non-key change of a referenced station, and re-keying an unreferenced one, are fine.
    session.execute(update(Station).where(Station.id == used).values(name="renamed"))
    session.execute(update(Station).where(Station.id == unused).values(id=unused + 1000))
    session.commit()
    assert session.execute(select(Station.name).where(Station.id == used)).scalar_one() == "renamed"


def test_updating_an_observation_to_a_missing_station_fails(session):
    first = _station(session, "01646500")
    second = _station(session, "08MF005")
    session.execute(insert(DischargeObservation).values([_row(first, 0), _row(first, 1)]))
    session.commit()

    with pytest.raises(IntegrityError) as excinfo:
        session.execute(update(DischargeObservation).values(station_id=second + 1000))
    _refused(excinfo, _is_postgresql(session), f"station_id {second + 1000} not present")
    session.rollback()
    assert _observations(session, first) == 2

    session.execute(update(DischargeObservation).values(station_id=second))
    session.commit()
    assert _observations(session, second) == 2


def test_upsert_revising_values_passes_the_check(session):
    """INSERT … ON CONFLICT DO UPDATE fires the insert and the update check (on PostgreSQL)."""
    good = _station(session, "01646500")
    session.execute(insert(DischargeObservation).values([_row(good, 0), _row(good, 1)]))
    session.commit()
    dialect_insert = postgresql.insert if _is_postgresql(session) else sqlite.insert

    def upsert(rows):
        statement = dialect_insert(DischargeObservation).values(rows)
        return statement.on_conflict_do_update(
            index_elements=["station_id", "observed_at", "type"], set_={"discharge": statement.excluded.discharge}
        )

    session.execute(upsert([{**_row(good, 1), "discharge": 9.0}, _row(good, 2)]))
    session.commit()
    assert _observations(session, good) == 3
    assert session.execute(select(func.max(DischargeObservation.discharge))).scalar_one() == 9.0

    with pytest.raises(IntegrityError):
        session.execute(upsert([{**_row(good, 1), "discharge": 8.0}, _row(good + 3, 5)]))
    session.rollback()
    assert _observations(session) == 3


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_truncating_stations_alone_fails(session):
    good = _station(session, "01646500")
    session.execute(insert(DischargeObservation).values(_row(good)))
    session.commit()

    for statement in ("TRUNCATE stations, forecast_runs, forecast_verifications", "TRUNCATE stations CASCADE"):
        with pytest.raises(IntegrityError) as excinfo:
            session.execute(text(statement))
        _refused(excinfo, True, "stations: truncated while discharge_observations still has rows")
        session.rollback()

    session.execute(text("TRUNCATE stations, forecast_runs, forecast_verifications, discharge_observations"))
    session.commit()
    assert _observations(session) == 0


# --- PostgreSQL: two transactions racing (READ COMMITTED, the default of every writer) -------------

WAIT = 20  # seconds: anything that takes longer is a hang and fails the test


class _Worker(threading.Thread):
    """Runs ``work(connection)`` on its own connection and commits; keeps the backend pid and error."""

    def __init__(self, engine, work):
        super().__init__(daemon=True)
        self.engine, self.work = engine, work
        self.pid: int | None = None
        self.started_work = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text(f"SET lock_timeout = '{WAIT * 2}s'"))  # never blocks CI forever
                self.pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                self.started_work.set()
                self.work(conn)
                conn.commit()
        except Exception as exc:  # noqa: BLE001 - handed to the test, which asserts on it
            self.error = exc
        finally:
            self.started_work.set()


def _wait_until_blocked_by(engine, waiter: _Worker, holder_pid: int) -> None:
    assert waiter.started_work.wait(WAIT) and waiter.pid is not None, waiter.error
    deadline = time.monotonic() + WAIT
    with engine.connect() as monitor:
        while time.monotonic() < deadline:
            blockers = monitor.execute(text("SELECT pg_blocking_pids(:p)"), {"p": waiter.pid}).scalar_one()
            if holder_pid in blockers:
                return
            assert waiter.is_alive(), f"did not wait for the other transaction: {waiter.error!r}"
            time.sleep(0.05)
    pytest.fail(f"backend {waiter.pid} never waited for backend {holder_pid}")


def _seed_station(engine, number="01646500") -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(Station).values(station_number=number, name="x", agency="USGS").returning(Station.id)
        ).scalar_one()


def _count(engine, table, where: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one()


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_insert_waits_for_a_pending_station_delete_then_fails(engine):
    station = _seed_station(engine)
    deleter = engine.connect()
    try:
        deleter.execute(text(f"SET statement_timeout = '{WAIT}s'"))
        deleter_pid = deleter.execute(text("SELECT pg_backend_pid()")).scalar_one()
        deleter.execute(delete(Station).where(Station.id == station))  # no observations yet: allowed

        observation = insert(DischargeObservation).values(_row(station))
        inserter = _Worker(engine, lambda conn: conn.execute(observation))
        inserter.start()
        _wait_until_blocked_by(engine, inserter, deleter_pid)  # the KEY SHARE lock waits for the delete
        deleter.commit()
    finally:
        deleter.close()  # rolls back if anything above failed, releasing the inserter

    inserter.join(WAIT)
    assert not inserter.is_alive(), "the insert still hangs after the delete committed"
    assert isinstance(inserter.error, IntegrityError), repr(inserter.error)
    assert inserter.error.orig.sqlstate == FOREIGN_KEY_VIOLATION
    assert f"station_id {station} not present in stations" in str(inserter.error.orig)
    assert _count(engine, "discharge_observations", "station_id = :s", s=station) == 0
    assert _count(engine, "stations", "id = :s", s=station) == 0


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_station_delete_waits_for_a_pending_insert_then_fails(engine):
    station = _seed_station(engine)
    inserter = engine.connect()
    try:
        inserter.execute(text(f"SET statement_timeout = '{WAIT}s'"))
        inserter_pid = inserter.execute(text("SELECT pg_backend_pid()")).scalar_one()
        inserter.execute(insert(DischargeObservation).values(_row(station)))  # holds KEY SHARE on the station

        deleter = _Worker(engine, lambda conn: conn.execute(delete(Station).where(Station.id == station)))
        deleter.start()
        _wait_until_blocked_by(engine, deleter, inserter_pid)
        inserter.commit()
    finally:
        inserter.close()

    deleter.join(WAIT)
    assert not deleter.is_alive(), "the delete still hangs after the insert committed"
    assert isinstance(deleter.error, IntegrityError), repr(deleter.error)
    assert deleter.error.orig.sqlstate == FOREIGN_KEY_VIOLATION
    assert f"stations: id {station} is still referenced" in str(deleter.error.orig)
    assert _count(engine, "stations", "id = :s", s=station) == 1
    assert _count(engine, "discharge_observations", "station_id = :s", s=station) == 1
