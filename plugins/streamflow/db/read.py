"""Read queries behind the read API (``streamflow.web.api``): stations, observations, forecasts.

The database layer owns the SQL; the web layer owns HTTP. Every function here reads a bounded
number of rows: pages are keyset pages (the caller passes a ``limit`` and the key of the last row
it has seen), and streamed exports never hold more than one batch in memory
(docs/adr/0015-read-api.md).

Rules shared with the API documentation (docs/api.md):

* an :class:`Interval` is closed: ``start <= observed_at <= end`` (either end may be open);
* observations are ordered by ``(observed_at, type)`` — the order of the unique index
  ``(station_id, observed_at, type)``, so a page is one index range scan and the key is unique;
* a unit conversion is done in SQL with the exact factor 1 ft³/s = 0.028316846592 m³/s, the same
  expression for JSON and CSV on both databases; a value whose stored unit is neither ``cfs`` nor
  ``cms`` keeps its stored unit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Row,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from streamflow.db.models import (
    DischargeObservation,
    ForecastRun,
    MasterStation,
    PullConfiguration,
    PullConfigurationStation,
    Station,
    StationMapping,
)
from streamflow.db.pgcopy import copy_out
from streamflow.db.stations import StationFilters
from streamflow.vocabulary import FORECAST_SOURCE, Unit

CMS_PER_CFS = 0.028316846592  # exact by definition: (0.3048 m)³
CSV_BATCH_ROWS = 5_000
CSV_CHUNK_BYTES = 1024 * 1024
OBSERVATION_CSV_COLUMNS = ("station_number", "observed_at", "type", "discharge", "unit", "quality_code")
DATA_TYPE_OF_SOURCE = {source: str(data_type) for data_type, source in FORECAST_SOURCE.items()}

O = DischargeObservation


# --------------------------------------------------------------------------- value objects


@dataclass(frozen=True)
class Interval:
    """A closed time interval; ``None`` is an open end."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class ObservationKey:
    """The position of one observation in the page order (unique per station)."""

    observed_at: datetime
    type: str


@dataclass(frozen=True)
class ObservationQuery:
    station_id: int
    data_type: str | None = None
    interval: Interval = Interval()
    quality: str | None = None  # approval state: 'A' or 'P' (the first element of quality_code)
    unit: str | None = None  # convert to this unit; None = as stored
    after: ObservationKey | None = None  # exclusive lower bound (the cursor)
    through: ObservationKey | None = None  # inclusive upper bound (a CSV page's last key)


@dataclass(frozen=True)
class ForecastRunKey:
    run_date: datetime
    id: int


def format_instant(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; fractions of a second only when there are any."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- stations


def find_station(session: Session, station_number: str) -> Station | None:
    return session.execute(select(Station).where(Station.station_number == station_number)).scalar_one_or_none()


def find_master_station(session: Session, station_number: str) -> MasterStation | None:
    return session.execute(
        select(MasterStation).where(MasterStation.station_number == station_number)
    ).scalar_one_or_none()


def _catalog():
    """Every station this database knows: the master list, plus stations with data missing from it."""
    master = select(
        MasterStation.station_number.label("station_number"),
        MasterStation.station_name.label("name"),
        MasterStation.agency.label("agency"),
        MasterStation.state_code.label("state"),
        MasterStation.huc_code.label("huc_code"),
        MasterStation.latitude.label("latitude"),
        MasterStation.longitude.label("longitude"),
        MasterStation.drainage_area_sqmi.label("drainage_area_sqmi"),
        MasterStation.altitude_ft.label("altitude_ft"),
    )
    only_data = select(
        Station.station_number,
        Station.name,
        Station.agency,
        Station.state,
        Station.huc_code,
        Station.latitude,
        Station.longitude,
        null().label("drainage_area_sqmi"),
        null().label("altitude_ft"),
    ).where(~exists().where(MasterStation.station_number == Station.station_number))
    return union_all(master, only_data).subquery("catalog")


def list_stations(session: Session, filters: StationFilters, *, after: str | None, limit: int) -> list[Row]:
    """Up to ``limit`` catalog rows after station number ``after``, ordered by station number.

    ``filters`` mean what they mean for ``streamflow.db.stations`` (there applied to the master list
    only; here to the catalog: the master list plus the stations with data missing from it).
    """
    c = _catalog().c
    query = select(c)
    if filters.agency:
        query = query.where(func.upper(c.agency) == filters.agency.upper())
    if filters.state:
        query = query.where(func.upper(c.state) == filters.state.upper())
    if filters.huc:
        query = query.where(c.huc_code.startswith(filters.huc, autoescape=True))
    if filters.text:
        needle = filters.text.lower()
        query = query.where(
            or_(func.lower(c.name).contains(needle, autoescape=True),
                func.lower(c.station_number).contains(needle, autoescape=True))
        )
    if filters.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = filters.bbox
        query = query.where(c.longitude.between(min_lon, max_lon), c.latitude.between(min_lat, max_lat))
    if after is not None:
        query = query.where(c.station_number > after)
    return list(session.execute(query.order_by(c.station_number).limit(limit)))


@dataclass(frozen=True)
class Coverage:
    data_type: str
    first: datetime
    last: datetime
    count: int


def coverage(session: Session, station_numbers: Sequence[str]) -> dict[str, list[Coverage]]:
    """Per station and data type: first and last instant and row count (observations and forecast runs)."""
    out: dict[str, list[Coverage]] = {n: [] for n in station_numbers}
    if not station_numbers:
        return out
    observed = session.execute(
        select(Station.station_number, O.type, func.min(O.observed_at), func.max(O.observed_at), func.count())
        .join(Station, Station.id == O.station_id)
        .where(Station.station_number.in_(station_numbers))
        .group_by(Station.station_number, O.type)
    )
    forecast = session.execute(
        select(Station.station_number, ForecastRun.source, func.min(ForecastRun.run_date),
               func.max(ForecastRun.run_date), func.count())
        .join(Station, Station.id == ForecastRun.station_id)
        .where(Station.station_number.in_(station_numbers))
        .group_by(Station.station_number, ForecastRun.source)
    )
    for number, kind, first, last, count in observed:
        out[number].append(Coverage(kind, _utc(first), _utc(last), int(count)))
    for number, source, first, last, count in forecast:
        out[number].append(Coverage(DATA_TYPE_OF_SOURCE.get(source, source), _utc(first), _utc(last), int(count)))
    for items in out.values():
        items.sort(key=lambda c: c.data_type)
    return out


def _utc(value: Any) -> datetime:
    """Aggregates (min/max) bypass the column type on SQLite: parse and attach UTC there."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def station_mappings(session: Session, station_number: str) -> list[StationMapping]:
    return list(
        session.execute(
            select(StationMapping).where(StationMapping.source_id == station_number)
            .order_by(StationMapping.target_agency, StationMapping.target_id)
        ).scalars()
    )


def configurations_pulling(session: Session, station_number: str) -> list[PullConfiguration]:
    return list(
        session.execute(
            select(PullConfiguration)
            .where(exists().where(PullConfigurationStation.config_id == PullConfiguration.id,
                                  PullConfigurationStation.station_number == station_number))
            .order_by(PullConfiguration.id)
        ).scalars()
    )


# --------------------------------------------------------------------------- observations


def _converted(unit: str | None) -> tuple[ColumnElement, ColumnElement]:
    """(discharge, unit) column expressions in the requested unit (``None`` = as stored)."""
    factor = cast(literal(CMS_PER_CFS), Float)
    if unit == Unit.CMS:
        return (case((O.unit == Unit.CFS.value, O.discharge * factor), else_=O.discharge),
                case((O.unit == Unit.CFS.value, literal(Unit.CMS.value)), else_=O.unit))
    if unit == Unit.CFS:
        return (case((O.unit == Unit.CMS.value, O.discharge / factor), else_=O.discharge),
                case((O.unit == Unit.CMS.value, literal(Unit.CFS.value)), else_=O.unit))
    return O.discharge, O.unit


def _observations(query: ObservationQuery, *columns: ColumnElement) -> Select:
    stmt = select(*columns).where(O.station_id == query.station_id)
    if query.data_type:
        stmt = stmt.where(O.type == query.data_type)
    if query.interval.start is not None:
        stmt = stmt.where(O.observed_at >= query.interval.start)
    if query.interval.end is not None:
        stmt = stmt.where(O.observed_at <= query.interval.end)
    if query.quality:
        stmt = stmt.where(or_(O.quality_code == query.quality, O.quality_code.startswith(f"{query.quality},")))
    # Keyset bounds on (observed_at, type). With one type the key is observed_at alone: plain index
    # bounds, no per-row filter (a third cheaper per page of the CSV export).
    if query.after is not None:  # (observed_at, type) > after, written so the index range starts at after
        a = query.after
        if query.data_type:
            stmt = stmt.where(O.observed_at > a.observed_at if a.type >= query.data_type else O.observed_at >= a.observed_at)
        else:
            stmt = stmt.where(O.observed_at >= a.observed_at, or_(O.observed_at > a.observed_at, O.type > a.type))
    if query.through is not None:  # (observed_at, type) <= through
        t = query.through
        if query.data_type:
            stmt = stmt.where(O.observed_at <= t.observed_at if t.type >= query.data_type else O.observed_at < t.observed_at)
        else:
            stmt = stmt.where(O.observed_at <= t.observed_at, or_(O.observed_at < t.observed_at, O.type <= t.type))
    return stmt.order_by(O.observed_at, O.type)


def observation_page(session: Session, query: ObservationQuery, limit: int) -> tuple[list[Row], bool]:
    """Up to ``limit`` rows (observed_at, type, discharge, unit, quality_code) and whether more follow."""
    discharge, unit = _converted(query.unit)
    stmt = _observations(query, O.observed_at, O.type, discharge.label("discharge"), unit.label("unit"), O.quality_code)
    rows = session.connection().execute(stmt.limit(limit + 1)).all()  # Core rows: no ORM loading per row
    return rows[:limit], len(rows) > limit


def observation_page_end(session: Session, query: ObservationQuery, limit: int) -> ObservationKey | None:
    """The key of the page's last row when more rows follow it, else ``None`` (the page runs to the end)."""
    keys = session.execute(_observations(query, O.observed_at, O.type).offset(limit - 1).limit(2)).all()
    if len(keys) < 2:
        return None
    return ObservationKey(keys[0][0], keys[0][1])


def stream_observations_csv(engine: Engine, query: ObservationQuery, station_number: str, limit: int,
                            *, header: bool = True) -> Iterator[bytes]:
    """CSV bytes of one page, in pieces; never the whole page in memory.

    ``query.through`` bounds a page that has a next page (its rows are exactly those up to that
    key); a last page is bounded by ``limit``. PostgreSQL writes the CSV itself (``COPY``), passed
    on in pieces of ``CSV_CHUNK_BYTES``; SQLite rows are fetched and written ``CSV_BATCH_ROWS`` at a time.
    """
    if header:
        yield (",".join(OBSERVATION_CSV_COLUMNS) + "\n").encode()
    bounded = query if query.through is not None else None
    if engine.dialect.name == "postgresql":
        yield from _postgres_csv(engine, query, station_number, None if bounded else limit)
        return
    discharge, unit = _converted(query.unit)
    stmt = _observations(query, O.observed_at, O.type, discharge, unit, O.quality_code)
    if bounded is None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=CSV_BATCH_ROWS).execute(stmt)
        for batch in result.partitions(CSV_BATCH_ROWS):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerows(
                (station_number, format_instant(t), kind, _number(v), u, q or "") for t, kind, v, u, q in batch
            )
            yield buffer.getvalue().encode()


def _number(value: float) -> str:
    """Shortest round-trip text of a float, without a trailing ``.0`` (as PostgreSQL writes it)."""
    text = repr(value)
    return text.removesuffix(".0")


def _postgres_csv(engine: Engine, query: ObservationQuery, station_number: str, limit: int | None) -> Iterator[bytes]:
    """The server writes the CSV (``COPY (SELECT …) TO STDOUT``); rows are passed on in ~1 MiB pieces.

    The session's time zone is UTC and its DateStyle ISO (SET LOCAL), so a timestamp's own text is
    ``2024-01-01 00:00:00+00`` (fractions only when present): two replaces make it RFC 3339 —
    cheaper per row than ``to_char``. ``float8`` text is the shortest exact form.
    """
    discharge, unit = _converted(query.unit)
    instant = func.replace(func.replace(cast(O.observed_at, Text), " ", "T"), "+00", "Z")
    stmt = _observations(query, literal(station_number), instant, O.type, discharge, unit, O.quality_code)
    if limit is not None:
        stmt = stmt.limit(limit)
    compiled = stmt.compile(dialect=engine.dialect)
    sql = f"COPY ({compiled.string}) TO STDOUT (FORMAT csv)"
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO', true), "
                           "set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true), "
                           "set_config('max_parallel_workers_per_gather', '0', true)")
            yield from copy_out(cursor, sql, compiled.construct_params(), chunk_bytes=CSV_CHUNK_BYTES)
        raw.commit()
    finally:
        raw.close()


# --------------------------------------------------------------------------- forecasts


def forecast_runs(
    session: Session, station_id: int, *, source: str | None, interval: Interval,
    after: ForecastRunKey | None, limit: int,
) -> tuple[list[Row], bool]:
    """Runs (no values) ordered by (run_date, id): up to ``limit`` and whether more follow."""
    stmt = select(ForecastRun.id, ForecastRun.source, ForecastRun.run_date, ForecastRun.unit, ForecastRun.rmse).where(
        ForecastRun.station_id == station_id
    )
    if source:
        stmt = stmt.where(ForecastRun.source == source)
    if interval.start is not None:
        stmt = stmt.where(ForecastRun.run_date >= interval.start)
    if interval.end is not None:
        stmt = stmt.where(ForecastRun.run_date <= interval.end)
    if after is not None:
        stmt = stmt.where(
            ForecastRun.run_date >= after.run_date,
            or_(ForecastRun.run_date > after.run_date, and_(ForecastRun.run_date == after.run_date, ForecastRun.id > after.id)),
        )
    rows = list(session.execute(stmt.order_by(ForecastRun.run_date, ForecastRun.id).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def forecast_run(session: Session, forecast_id: int) -> tuple[ForecastRun, str] | None:
    """One run and its station number."""
    row = session.execute(
        select(ForecastRun, Station.station_number).join(Station, Station.id == ForecastRun.station_id)
        .where(ForecastRun.id == forecast_id)
    ).first()
    return (row[0], row[1]) if row else None


def latest_forecast_run(session: Session, station_id: int, source: str | None) -> ForecastRun | None:
    stmt = select(ForecastRun).where(ForecastRun.station_id == station_id)
    if source:
        stmt = stmt.where(ForecastRun.source == source)
    return session.execute(stmt.order_by(ForecastRun.run_date.desc(), ForecastRun.id.desc()).limit(1)).scalar_one_or_none()


def convert(value: float, stored: str | None, wanted: str | None) -> tuple[float, str | None]:
    """One value in ``wanted`` units (the SQL expression's twin for forecast values kept as JSON)."""
    if wanted == Unit.CMS and stored == Unit.CFS:
        return value * CMS_PER_CFS, Unit.CMS.value
    if wanted == Unit.CFS and stored == Unit.CMS:
        return value / CMS_PER_CFS, Unit.CFS.value
    return value, stored
