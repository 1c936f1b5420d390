"""Repository functions: each takes a session and never commits (callers own transactions).

Portable between SQLite and PostgreSQL. Observations: SQLite uses its native upsert
(``INSERT … ON CONFLICT``); PostgreSQL diffs against the stored window and binary-COPYs what is
new or revised (ADR 0002).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, delete, func, or_, select, text, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from streamflow.db.models import (
    DataPullLog,
    DischargeObservation,
    ForecastRun,
    MasterStation,
    PullConfiguration,
    PullConfigurationStation,
    PullStationProgress,
    Station,
    StationMapping,
)
from streamflow.db.sql_files import load_sql
from streamflow.vocabulary import PullStatus

if TYPE_CHECKING:  # pandas is imported only where frames are written (keeps DAG parsing light)
    import pandas as pd

    from streamflow.canonical import ForecastRunData

log = logging.getLogger(__name__)

# Rows per SQLite upsert call; SQLAlchemy sends each batch as multi-row INSERTs of up to 1,000 rows
# (6 parameters a row), well inside SQLite's 32,766 bound parameters per statement.
SQLITE_BATCH_ROWS = 2_000


def insert_for(session: Session):
    """The dialect's ``insert`` (with ``on_conflict_do_*``) for the session's database."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{what} {value.isoformat()} is naive; timestamps must be timezone-aware UTC")
    return value.astimezone(timezone.utc)


# --------------------------------------------------------------------------- station id resolution


def resolve_station_id(session: Session, station_number: str, from_agency: str, to_agency: str) -> str | None:
    """Translate an id between agencies through ``station_mappings``.

    Identity when both agencies are the same; else a direct mapping (from → to), else a reverse one
    (a row written the other way round); ``None`` when the station is unknown.
    """
    if from_agency == to_agency:
        return station_number
    direct = session.execute(
        select(StationMapping.target_id)
        .where(StationMapping.source_agency == from_agency, StationMapping.source_id == station_number)
        .where(StationMapping.target_agency == to_agency)
        .order_by(StationMapping.id)
        .limit(1)
    ).scalar_one_or_none()
    if direct is not None:
        return direct
    return session.execute(
        select(StationMapping.source_id)
        .where(StationMapping.target_agency == from_agency, StationMapping.target_id == station_number)
        .where(StationMapping.source_agency == to_agency)
        .order_by(StationMapping.id)
        .limit(1)
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- stations


def get_master_stations(session: Session, station_numbers: Iterable[str]) -> dict[str, MasterStation]:
    numbers = sorted(set(station_numbers))
    if not numbers:
        return {}
    rows = session.scalars(select(MasterStation).where(MasterStation.station_number.in_(numbers)))
    return {row.station_number: row for row in rows}


def ensure_station(
    session: Session, station_number: str, agency: str, metadata: Mapping[str, Any] | None = None
) -> int:
    """The ``stations.id`` of a station, creating the row the first time data arrives for it.

    The row is filled from ``master_stations`` when the station is listed there, else from the
    service's site ``metadata`` (name, latitude, longitude, timezone, huc_code, state, …).
    Concurrent tasks creating the same station are safe (insert … on conflict do nothing).
    """
    existing = session.execute(select(Station.id).where(Station.station_number == station_number)).scalar()
    if existing is not None:
        return existing
    values: dict[str, Any] = {"station_number": station_number, "agency": agency, "is_active": True}
    master = session.execute(
        select(MasterStation).where(MasterStation.station_number == station_number)
    ).scalar_one_or_none()
    if master is not None:
        values.update(
            name=master.station_name,
            latitude=master.latitude,
            longitude=master.longitude,
            huc_code=master.huc_code,
            state=master.state_code,
            catchment_area=master.drainage_area_sqmi * 2.589988 if master.drainage_area_sqmi else None,
        )
    allowed = {c.key for c in Station.__table__.columns} - {"id", "station_number", "last_updated"}
    for key, value in (metadata or {}).items():
        if key in allowed and value is not None and values.get(key) is None:
            values[key] = value
    values.setdefault("name", station_number)
    if values.get("name") is None:
        values["name"] = station_number
    insert = insert_for(session)
    session.execute(insert(Station).values(**values).on_conflict_do_nothing(index_elements=["station_number"]))
    return session.execute(select(Station.id).where(Station.station_number == station_number)).scalar_one()


# --------------------------------------------------------------------------- progress


def get_progress(session: Session, config_id: int, station_number: str) -> datetime | None:
    return session.execute(
        select(PullStationProgress.last_successful_pull_date).where(
            PullStationProgress.config_id == config_id, PullStationProgress.station_number == station_number
        )
    ).scalar_one_or_none()


def get_progress_map(session: Session, config_id: int) -> dict[str, datetime | None]:
    rows = session.execute(
        select(PullStationProgress.station_number, PullStationProgress.last_successful_pull_date).where(
            PullStationProgress.config_id == config_id
        )
    )
    return {number: when for number, when in rows}


def advance_progress(
    session: Session, config_id: int, station_number: str, reached: datetime, *, allow_backwards: bool = False
) -> datetime:
    """Record that data up to ``reached`` is stored; returns the progress now recorded.

    In append mode (the default) progress never moves backwards: an older ``reached`` leaves it as
    it is. ``allow_backwards=True`` (overwrite runs) sets it to exactly ``reached``.
    """
    reached = _utc(reached, "progress")
    current = session.execute(
        select(PullStationProgress)
        .where(PullStationProgress.config_id == config_id, PullStationProgress.station_number == station_number)
        .with_for_update()
    ).scalar_one_or_none()
    if current is None:
        insert = insert_for(session)
        session.execute(
            insert(PullStationProgress)
            .values(config_id=config_id, station_number=station_number, last_successful_pull_date=reached)
            .on_conflict_do_nothing(index_elements=["config_id", "station_number"])
        )
        session.flush()
        current = session.execute(
            select(PullStationProgress).where(
                PullStationProgress.config_id == config_id, PullStationProgress.station_number == station_number
            )
        ).scalar_one()
    previous = current.last_successful_pull_date
    if previous is None or allow_backwards or reached > previous:
        current.last_successful_pull_date = reached
        current.updated_at = datetime.now(timezone.utc)
    session.flush()
    return current.last_successful_pull_date


# --------------------------------------------------------------------------- observations


@dataclass(frozen=True)
class WriteResult:
    rows_in: int  # rows offered (after canonicalisation)
    rows_written: int  # rows inserted or changed
    latest: datetime | None  # latest observed_at among the rows offered
    # The time range where what is stored changed: first and last observed_at of the rows written
    # (None: nothing written); an overwrite that deleted rows widens it to its whole range.
    first_written: datetime | None = None
    last_written: datetime | None = None


def _observation_rows(frame: pd.DataFrame, station_ids: Mapping[str, int]) -> Iterator[tuple]:
    observed = frame["observed_at"].dt.to_pydatetime()
    for number, when, value, unit, kind, quality in zip(
        frame["station_number"], observed, frame["discharge"], frame["unit"], frame["data_type"],
        frame["quality_code"],
        strict=True,
    ):
        yield station_ids[number], when, float(value), unit, kind, quality


def upsert_observations(session: Session, frame: pd.DataFrame, station_ids: Mapping[str, int]) -> WriteResult:
    """Insert observations; a row that exists for (station_id, observed_at, type) is replaced.

    ``frame`` is a canonical observation frame (see ``streamflow.canonical``); ``station_ids`` maps
    its station numbers to ``stations.id``. Unchanged rows are not rewritten; the result says how
    many rows were written and the first and last ``observed_at`` among them.
    """
    from streamflow.canonical import canonical_observations

    frame = canonical_observations(frame)
    if frame.empty:
        return WriteResult(0, 0, None)
    missing = sorted(set(frame["station_number"]) - set(station_ids))
    if missing:
        raise KeyError(f"no stations.id for station(s) {', '.join(missing)}")
    latest = frame["observed_at"].max().to_pydatetime()
    if session.get_bind().dialect.name == "postgresql":
        parts = [
            _write_postgresql(session, group, station_ids[number], kind)
            for (number, kind), group in frame.groupby(["station_number", "data_type"], sort=False)
        ]
    else:
        parts = [_upsert_sqlite(session, _observation_rows(frame, station_ids))]
    written = sum(count for count, _, _ in parts)
    firsts = [first for _, first, _ in parts if first is not None]
    lasts = [last for _, _, last in parts if last is not None]
    return WriteResult(len(frame), written, latest, min(firsts, default=None), max(lasts, default=None))


# pg_advisory_xact_lock(class, station_id): writers of one station's observations take turns (ADR 0002).
_OBSERVATION_LOCK_CLASS = 0x53464F42  # "SFOB"

# What is stored in a chunk's window, packed by the server into one bytea of fixed-width binary
# records (numpy reads it without a Python object per row): the instant, the value, and the
# position (1-based) of the row's unit + quality code among the chunk's own pairs, 0 when the
# chunk has no such pair (so: revised).
_STORED_IN_WINDOW = """
SELECT string_agg(
    timestamptz_send(observed_at) || float8send(discharge) || int4send(COALESCE(
        array_position(%(tails)s::text[], unit || chr(31) || COALESCE(quality_code, chr(30))), 0)),
    ''::bytea)
FROM discharge_observations
WHERE station_id = %(station_id)s AND type = %(data_type)s AND observed_at BETWEEN %(first)s AND %(last)s
"""


def _tail_key(unit: str | None, quality: str | None) -> str:
    """The text _STORED_IN_WINDOW builds from a stored row's unit and quality code."""
    return f"{unit or ''}\x1f{chr(30) if quality is None else quality}"


# Stored versions of revised rows go by runs of consecutive stored instants: a range scan of the
# unique index per run costs a fraction of a lookup per id.
_DELETE_RUNS = """
DELETE FROM discharge_observations AS d
USING unnest(%s::timestamptz[], %s::timestamptz[]) AS run(first, last)
WHERE d.station_id = %s AND d.type = %s AND d.observed_at BETWEEN run.first AND run.last
"""


def _write_postgresql(
    session: Session, group: pd.DataFrame, station_id: int, data_type: str
) -> tuple[int, datetime | None, datetime | None]:
    """Write one station's rows of one type: diff against what is stored, COPY what is new or revised.

    Rows the database already holds with the same value, unit and quality code are skipped; a
    revised row's stored version is deleted and the new one COPYed (a DELETE marks a row, it
    touches no index; COPY inserts in multi-row batches, which ``INSERT … ON CONFLICT`` cannot).
    Stored rows the frame does not offer again are left as they are.
    The advisory lock keeps the diff true until commit against other writers of the station
    (ADR 0002); the station reference is checked once per statement (ADR 0005).
    Returns the rows written and the first and last of their instants (read off the diff's mask).
    """
    rows = _ObservationArrays.of(group)
    with session.connection().connection.driver_connection.cursor(binary=True) as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_OBSERVATION_LOCK_CLASS, station_id))
        stored = _stored_window(cursor, station_id, data_type, rows)
        to_write, runs = rows.diff(*stored)
        if runs:
            _delete_runs(cursor, station_id, data_type, runs)
        if not to_write.any():
            return 0, None, None
        _copy_observations(cursor, rows.payload(station_id, data_type, to_write))
    written = rows.epoch_us[to_write]  # in time order
    return len(written), _from_epoch_us(written[0]), _from_epoch_us(written[-1])


def _from_epoch_us(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(value))


def _stored_window(cursor, station_id: int, data_type: str, rows: _ObservationArrays):
    """(epoch µs, value, tail code) arrays of what is stored between the rows' first and last
    instant, in time order; the tail code indexes ``rows.tails`` from 1 (0: none of them)."""
    from streamflow.db.pgcopy import parse_stored_records

    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    cursor.execute(
        _STORED_IN_WINDOW,
        {
            "tails": [_tail_key(unit, quality) for unit, quality in rows.tails],
            "station_id": station_id,
            "data_type": data_type,
            "first": epoch + timedelta(microseconds=int(rows.epoch_us[0])),
            "last": epoch + timedelta(microseconds=int(rows.epoch_us[-1])),
        },
    )
    return parse_stored_records(cursor.fetchone()[0] or b"")


def _delete_runs(cursor, station_id: int, data_type: str, runs: Sequence[tuple[int, int]]) -> None:
    """Delete the stored rows of each (first, last) run of epoch-µs instants (bounds included)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    firsts = [epoch + timedelta(microseconds=first) for first, _ in runs]
    lasts = [epoch + timedelta(microseconds=last) for _, last in runs]
    cursor.execute(_DELETE_RUNS, (firsts, lasts, station_id, data_type))


def _copy_observations(cursor, payload: bytes) -> None:
    from streamflow.db.pgcopy import OBSERVATION_COPY_COLUMNS

    columns = ", ".join(OBSERVATION_COPY_COLUMNS)
    with cursor.copy(f"COPY discharge_observations ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)


@dataclass(frozen=True)
class _ObservationArrays:
    """One station's rows of one type as numpy arrays (instants sorted and unique)."""

    epoch_us: Any  # int64 microseconds since 1970-01-01 UTC
    values: Any  # float64
    tails: list[tuple[str, str | None]]  # the distinct (unit, quality_code) pairs
    codes: Any  # each row's index in ``tails``

    @classmethod
    def of(cls, group: pd.DataFrame) -> _ObservationArrays:
        import numpy as np

        instants = group["observed_at"].dt.tz_convert("UTC").dt.tz_localize(None)
        units, qualities = group["unit"].to_numpy(dtype=object), group["quality_code"].to_numpy(dtype=object)
        tails, codes = _tails(units, qualities)
        return cls(
            instants.to_numpy(dtype="datetime64[us]").view(np.int64),
            group["discharge"].to_numpy(dtype=np.float64),
            tails,
            codes,
        )

    def diff(self, stored_us, stored_values, stored_codes) -> tuple[Any, list[tuple[int, int]]]:
        """Rows to write (new or revised: a mask) and the runs of stored instants they revise.

        The stored arrays come from ``_stored_window`` (time order). A run is ``(first, last)``
        epoch µs of consecutive stored rows that are all revised (a row kept as it is ends a run).
        """
        import numpy as np

        to_write = np.ones(len(self.epoch_us), dtype=bool)
        if not len(stored_us):
            return to_write, []
        pos = np.minimum(np.searchsorted(self.epoch_us, stored_us), len(self.epoch_us) - 1)
        offered = self.epoch_us[pos] == stored_us  # stored rows this frame offers again
        same = offered & (self.values[pos] == stored_values) & (self.codes[pos] + 1 == stored_codes)
        to_write[pos[same]] = False
        revised = offered & ~same
        edges = np.diff(np.concatenate(([0], revised.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
        return to_write, list(zip(stored_us[starts].tolist(), stored_us[ends].tolist(), strict=True))

    def payload(self, station_id: int, data_type: str, rows: Any) -> bytes:
        """Binary COPY stream of the selected ``rows`` (a boolean mask)."""
        from streamflow.db.pgcopy import observation_payload

        triples = [(unit, data_type, quality) for unit, quality in self.tails]
        epoch_us, values, codes = self.epoch_us[rows], self.values[rows], self.codes[rows]
        return observation_payload(station_id, epoch_us, values, triples, codes)


def _tails(units, qualities) -> tuple[list[tuple[str, str | None]], Any]:
    """Distinct (unit, quality_code) pairs and each row's index among them."""
    import numpy as np
    import pandas as pd

    unit_codes, unit_values = pd.factorize(units, use_na_sentinel=False)
    quality_codes, quality_values = pd.factorize(qualities, use_na_sentinel=False)
    combined = unit_codes.astype(np.int64) * len(quality_values) + quality_codes
    distinct, codes = np.unique(combined, return_inverse=True)
    pairs = []
    for value in distinct.tolist():
        unit, quality = unit_values[value // len(quality_values)], quality_values[value % len(quality_values)]
        pairs.append((None if pd.isna(unit) else unit, None if pd.isna(quality) else quality))
    return pairs, codes.astype(np.intp)



def _upsert_sqlite(session: Session, rows: Iterable[tuple]) -> tuple[int, datetime | None, datetime | None]:
    """``INSERT … ON CONFLICT DO UPDATE … WHERE`` changed, in batches; the rows written and the
    first and last of their instants.

    ``RETURNING`` (SQLite ≥ 3.35) yields exactly the rows inserted or updated: a conflict whose
    ``WHERE`` is false returns nothing. The instants come back as stored (fixed-width UTC text, so
    text order is time order) and only the first and last are parsed.
    """
    table = DischargeObservation.__table__
    stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["station_id", "observed_at", "type"],
        set_={"discharge": stmt.excluded.discharge, "unit": stmt.excluded.unit, "quality_code": stmt.excluded.quality_code},
        where=or_(
            table.c.discharge != stmt.excluded.discharge,
            table.c.unit != stmt.excluded.unit,
            func.coalesce(table.c.quality_code, "") != func.coalesce(stmt.excluded.quality_code, ""),
        ),
    ).returning(type_coerce(table.c.observed_at, String))
    connection = session.connection()
    written, first, last = 0, None, None

    def write(batch: list[dict]) -> None:
        nonlocal written, first, last
        stored = connection.execute(stmt, batch).scalars().all()
        if stored:
            written += len(stored)
            low, high = min(stored), max(stored)
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)

    batch: list[dict] = []
    keys = ("station_id", "observed_at", "discharge", "unit", "type", "quality_code")
    for row in rows:
        batch.append(dict(zip(keys, row, strict=True)))
        if len(batch) >= SQLITE_BATCH_ROWS:
            write(batch)
            batch = []
    if batch:
        write(batch)
    if not written:
        return 0, None, None
    instant = table.c.observed_at.type.dialect_impl(connection.dialect).result_processor(connection.dialect, None)
    return written, instant(first), instant(last)


def replace_observations(
    session: Session,
    frame: pd.DataFrame,
    station_ids: Mapping[str, int],
    *,
    station_number: str,
    data_type: str,
    start: datetime,
    end: datetime,
) -> WriteResult:
    """Overwrite: delete what is stored for the station/type in [start, end], then write ``frame``.

    A deleted row the frame does not offer again changes what is stored too, so when anything was
    deleted the written range covers [start, end] (and any written row outside it).
    """
    station_id = station_ids[station_number]
    start, end = _utc(start, "start"), _utc(end, "end")
    deleted = session.execute(
        delete(DischargeObservation).where(
            DischargeObservation.station_id == station_id,
            DischargeObservation.type == data_type,
            DischargeObservation.observed_at >= start,
            DischargeObservation.observed_at <= end,
        )
    ).rowcount
    result = upsert_observations(session, frame, station_ids)
    if not deleted:
        return result
    return replace(
        result,
        first_written=min(start, result.first_written or start),
        last_written=max(end, result.last_written or end),
    )


def count_observations(session: Session, station_number: str | None = None, data_type: str | None = None) -> int:
    stmt = select(func.count()).select_from(DischargeObservation)
    if station_number is not None:
        stmt = stmt.join(Station, Station.id == DischargeObservation.station_id).where(
            Station.station_number == station_number
        )
    if data_type is not None:
        stmt = stmt.where(DischargeObservation.type == data_type)
    return session.execute(stmt).scalar_one()


# --------------------------------------------------------------------------- forecasts


def insert_forecast_run(session: Session, station_id: int, run: ForecastRunData) -> bool:
    """Store one issued forecast once: True when it was new, False when already stored."""
    insert = insert_for(session)
    new_id = session.execute(
        insert(ForecastRun)
        .values(
            station_id=station_id,
            source=run.source,
            run_date=_utc(run.run_date, "run_date"),
            data=run.to_json(),
            unit=run.unit,
        )
        .on_conflict_do_nothing(index_elements=["station_id", "source", "run_date"])
        .returning(ForecastRun.id)
    ).scalar()
    return new_id is not None


def latest_forecast_run(session: Session, station_id: int, source: str) -> datetime | None:
    return session.execute(
        select(func.max(ForecastRun.run_date)).where(ForecastRun.station_id == station_id, ForecastRun.source == source)
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- pull configurations


def create_configuration(
    session: Session,
    *,
    name: str,
    data_type: str,
    data_strategy: str,
    pull_start_date: datetime,
    schedule_type: str,
    stations: Sequence[Mapping[str, Any]],
    schedule_value: str | None = None,
    description: str | None = None,
    is_enabled: bool = True,
) -> PullConfiguration:
    """Insert a configuration with its stations (validate it first: ``streamflow.configurations``)."""
    config = PullConfiguration(
        name=name,
        description=description,
        data_type=data_type,
        data_strategy=data_strategy,
        pull_start_date=_utc(pull_start_date, "pull_start_date"),
        schedule_type=schedule_type,
        schedule_value=schedule_value,
        is_enabled=is_enabled,
    )
    masters = get_master_stations(session, [s["station_number"] for s in stations])
    for spec in stations:
        master = masters.get(spec["station_number"])
        config.stations.append(
            PullConfigurationStation(
                station_number=spec["station_number"],
                agency=spec.get("agency"),
                station_name=spec.get("station_name") or (master.station_name if master else None),
                huc_code=master.huc_code if master else None,
                state=master.state_code if master else None,
            )
        )
    session.add(config)
    session.flush()
    return config


def get_configuration(session: Session, config_id: int) -> PullConfiguration | None:
    return session.execute(
        select(PullConfiguration).where(PullConfiguration.id == config_id).options(selectinload(PullConfiguration.stations))
    ).scalar_one_or_none()


def list_configurations(session: Session) -> list[PullConfiguration]:
    return list(
        session.scalars(
            select(PullConfiguration).options(selectinload(PullConfiguration.stations)).order_by(PullConfiguration.id)
        )
    )


def set_configuration_enabled(session: Session, config_id: int, enabled: bool) -> bool:
    result = session.execute(
        update(PullConfiguration)
        .where(PullConfiguration.id == config_id)
        .values(is_enabled=enabled, updated_at=datetime.now(timezone.utc))
    )
    return bool(result.rowcount)


def load_configuration_rows(session: Session, config_id: int | None = None) -> list[dict[str, Any]]:
    """Every configuration (or just ``config_id``) as a plain dict with its ``stations`` list:
    one query, stable order. A value that does not convert (a hand edit left text or a BLOB in
    ``pull_start_date``) stays raw, so validation refuses that row alone and the others still load."""
    from streamflow.db.types import UtcDateTime

    dialect = session.get_bind().dialect
    to_utc = UtcDateTime().dialect_impl(dialect).result_processor(dialect, None)

    def start_date(value: Any) -> Any:
        try:
            return to_utc(value) if to_utc else value
        except (AttributeError, TypeError, ValueError, OverflowError):
            return value

    result = session.execute(text(load_sql("load_configurations.sql")), {"config_id": config_id}).mappings()
    configs: dict[int, dict[str, Any]] = {}
    for row in result:
        config = configs.get(row["id"])
        if config is None:
            config = configs[row["id"]] = {
                key: row[key]
                for key in (
                    "id", "name", "description", "data_type", "data_strategy", "pull_start_date",
                    "is_enabled", "schedule_type", "schedule_value",
                )
            }
            config["pull_start_date"] = start_date(row["pull_start_date"])
            config["is_enabled"] = None if row["is_enabled"] is None else bool(row["is_enabled"])
            config["stations"] = []
        if row["station_number"] is not None:
            config["stations"].append(
                {"station_number": row["station_number"], "station_name": row["station_name"], "agency": row["agency"]}
            )
    return list(configs.values())


def update_run_times(
    session: Session, config_id: int, *, last_run_at: datetime | None, next_run_at: datetime | None
) -> None:
    session.execute(
        update(PullConfiguration)
        .where(PullConfiguration.id == config_id)
        .values(last_run_at=last_run_at, next_run_at=next_run_at)
    )


# --------------------------------------------------------------------------- data pull logs


def open_pull_log(
    session: Session, *, config_id: int, dag_id: str, dag_run_id: str, stations_total: int, start_time: datetime
) -> int:
    """Open the log row of a DAG run (``running``); a retried ``plan`` reuses the row it opened."""
    existing = session.execute(
        select(DataPullLog.id).where(DataPullLog.dag_id == dag_id, DataPullLog.dag_run_id == dag_run_id)
    ).scalar()
    if existing is not None:
        session.execute(
            update(DataPullLog)
            .where(DataPullLog.id == existing)
            .values(status=PullStatus.RUNNING.value, stations_total=stations_total, end_time=None)
        )
        return existing
    row = DataPullLog(
        config_id=config_id,
        status=PullStatus.RUNNING.value,
        start_time=_utc(start_time, "start_time"),
        dag_id=dag_id,
        dag_run_id=dag_run_id,
        stations_total=stations_total,
        stations_failed=0,
        records_processed=0,
    )
    session.add(row)
    session.flush()
    return row.id


def close_pull_log(
    session: Session,
    log_id: int,
    *,
    status: str,
    records_processed: int,
    stations_failed: int,
    details: Any,
    error_message: str | None,
    end_time: datetime,
) -> None:
    session.execute(
        update(DataPullLog)
        .where(DataPullLog.id == log_id)
        .values(
            status=status,
            records_processed=records_processed,
            stations_failed=stations_failed,
            details=details,
            error_message=error_message,
            end_time=_utc(end_time, "end_time"),
        )
    )


def get_pull_logs(session: Session, config_id: int) -> list[DataPullLog]:
    return list(
        session.scalars(select(DataPullLog).where(DataPullLog.config_id == config_id).order_by(DataPullLog.id))
    )

