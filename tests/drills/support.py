"""Shared parts of the fault drills (issue 6): a station pull against the stand-in Water Data API
(streamflow/testing/fakes/usgs.py) with faults injected at chosen requests.

The pull is ``streamflow.operators.observations.pull_observations`` with the hook the USGS pull
task uses (``UsgsWaterDataHook``); the hook is built with ``retries=0`` so every fault
reaches our code instead of being absorbed by dataretrieval's own retry loop, and the drills
re-run the pull after a retryable error the way Airflow's task retry would.

Shape of every drill: daily means of one station from 1990-01-01 to a pinned "now" of
2026-01-01: 13,149 days → four chunks of at most 3,650 days (USGS ``MAX_CHUNK``), each served in
pages of ``PAGE`` rows (four pages per chunk), so a fault can land on a chunk's first page or a
later one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import create_engine, select, text

from streamflow.configurations import StationSpec
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DischargeObservation, Station
from streamflow.operators.base import PullTarget
from streamflow.operators.observations import pull_observations
from streamflow.trigger_params import RunParams
from streamflow.vocabulary import Agency, DataStrategy, DataType

from streamflow.testing.fakes.usgs import FakeUsgs
from streamflow.testing.replay import Request, Response

START = datetime(1990, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = NOW + timedelta(days=30)  # the service has data past "now"; the pull stops at now
PAGE = 1_000
STATION = "01646500"
CHUNKS = 4


def expected_daily(
    fake: FakeUsgs, station: str, first: date | None = None, last: date | None = None
) -> dict[datetime, float]:
    """What a clean run stores: the stand-in's series, day by day (hand-checkable: crc32 of station|day)."""
    first, last = first or START.date(), last or NOW.date()
    return {
        datetime.fromisoformat(key).replace(tzinfo=UTC): fake.value(station, key) for key in fake.daily_keys(first, last)
    }


def stored(engine, station: str = STATION, kind: str = "daily_mean") -> dict[datetime, float]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(DischargeObservation.observed_at, DischargeObservation.discharge)
            .join(Station, Station.id == DischargeObservation.station_id)
            .where(Station.station_number == station, DischargeObservation.type == kind)
        ).all()
    values = {when: value for when, value in rows}
    assert len(values) == len(rows), "duplicate observations stored"
    return values


def progress(engine, config_id: int, station: str = STATION) -> datetime | None:
    with session_scope(engine) as s:
        return repo.get_progress(s, config_id, station)


def create_config(engine, stations=(STATION,), *, data_type: str = "daily_mean") -> int:
    with session_scope(engine) as s:
        return repo.create_configuration(
            s, name="drill", data_type=data_type, data_strategy="append", pull_start_date=START,
            schedule_type="daily", stations=[{"station_number": n} for n in stations],
        ).id


def pull(engine, config_id: int, station: str = STATION, *, retries: int = 0, data_type: str = "daily_mean"):
    """One run of one station's pull, exactly as the USGS operator does it (minus Airflow)."""
    from streamflow.hooks.usgs import UsgsWaterDataHook

    return pull_observations(
        engine=engine,
        hook=UsgsWaterDataHook(retries=retries),
        target=PullTarget(config_id, DataType(data_type), DataStrategy.APPEND, START),
        station=StationSpec(station, Agency.USGS),
        params=RunParams(),
        now=NOW,
    )


@dataclass
class Rule:
    match: Callable[[Request], bool]
    response: Response | Callable[[Request], Response]
    remaining: int = 1


@dataclass
class Faults:
    """In front of the stand-in's daily handler: the first rule matching a request answers it
    instead (``remaining`` times); ``on_request`` hooks run first (to block, kill, break the DB)."""

    fake: FakeUsgs
    rules: list[Rule] = field(default_factory=list)
    on_request: list[Callable[[Request], None]] = field(default_factory=list)
    injected: list[tuple[str | None, str | None, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(
        self, match: Callable[[Request], bool], response: Response | Callable[[Request], Response], times: int = 1
    ) -> None:
        self.rules.append(Rule(match, response, times))

    def __call__(self, request: Request) -> Response:
        for hook in self.on_request:
            hook(request)
        with self.lock:
            rule = next((r for r in self.rules if r.remaining > 0 and r.match(request)), None)
            if rule is not None:
                rule.remaining -= 1
                self.injected.append((request.arg("time"), request.arg("cursor"), rule.remaining))
        if rule is None:
            return self.fake._serve_daily(request)
        return rule.response(request) if callable(rule.response) else rule.response


def chunk_ends() -> list[datetime]:
    """The last day each of the four chunks stores (chunks are 3,650 days; the hook asks for whole dates)."""
    ends = []
    start = START
    while start < NOW:
        end = min(start + timedelta(days=3650), NOW)
        ends.append(datetime.combine(end.date(), datetime.min.time(), tzinfo=UTC))
        start = end
    assert len(ends) == CHUNKS
    return ends


def chunk_starts() -> list[date]:
    """The first date each chunk asks the service for (chunks share their boundary day)."""
    starts, start = [], START
    while start < NOW:
        starts.append(start.date())
        start = min(start + timedelta(days=3650), NOW)
    return starts


def covering(day: date, *, page: int | None = None) -> Callable[[Request], bool]:
    """Matches requests whose ``time`` window contains ``day``; ``page`` 1 = first page, 2 = second, …

    (Chunk boundaries move when a run resumes from progress minus the overlap, so faults are
    placed by the day they hit, not by chunk number.)"""

    def match(request: Request) -> bool:
        window = (request.arg("time") or "").split("/")
        if len(window) != 2 or not (window[0][:10] <= day.isoformat() <= window[1][:10]):
            return False
        if page is None:
            return True
        cursor = request.arg("cursor")
        return (cursor is None) if page == 1 else (cursor == str((page - 1) * PAGE))

    return match


class ProgressRowLock:
    """PostgreSQL: hold the station's progress row FOR UPDATE from another connection."""

    def __init__(self, url: str, config_id: int) -> None:
        self.engine = create_engine(url)
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        locked = self.connection.execute(
            text("SELECT id FROM pull_station_progress WHERE config_id = :c AND station_number = :s FOR UPDATE"),
            {"c": config_id, "s": STATION},
        ).all()
        assert len(locked) == 1

    def writer_waiting(self) -> bool:
        return bool(
            self.connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            ).scalar()
        )

    def release(self) -> None:
        self.transaction.rollback()
        self.connection.close()
        self.engine.dispose()
