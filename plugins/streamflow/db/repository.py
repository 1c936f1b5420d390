"""Repository functions: each takes a session and never commits (callers own transactions).

Portable between SQLite and PostgreSQL; bulk writes use the dialect's native upsert
(``INSERT … ON CONFLICT``), and on PostgreSQL ``COPY`` into a staging table first (ADR 0002).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select, text, update
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
from streamflow.sql import load_sql
from streamflow.vocab import PullStatus

if TYPE_CHECKING:  # pandas is imported only where frames are written (keeps DAG parsing light)
    import pandas as pd

    from streamflow.frames import ForecastRunData

log = logging.getLogger(__name__)

# SQLite allows 32,766 bound parameters per statement; 7 columns × 2,000 rows stays well inside.
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


def _observation_rows(frame: pd.DataFrame, station_ids: Mapping[str, int]) -> Iterator[tuple]:
    missing = sorted(set(frame["station_number"]) - set(station_ids))
    if missing:
        raise KeyError(f"no stations.id for station(s) {', '.join(missing)}")
    observed = frame["observed_at"].dt.to_pydatetime()
    for number, when, value, unit, kind, quality in zip(
        frame["station_number"], observed, frame["discharge"], frame["unit"], frame["data_type"],
        frame["quality_code"],
        strict=True,
    ):
        yield station_ids[number], when, float(value), unit, kind, quality


def upsert_observations(session: Session, frame: pd.DataFrame, station_ids: Mapping[str, int]) -> WriteResult:
    """Insert observations; a row that exists for (station_id, observed_at, type) is replaced.

    ``frame`` is a canonical observation frame (see ``streamflow.frames``); ``station_ids`` maps
    its station numbers to ``stations.id``. Unchanged rows are not rewritten.
    """
    from streamflow.frames import canonical_observations

    frame = canonical_observations(frame)
    if frame.empty:
        return WriteResult(0, 0, None)
    latest = frame["observed_at"].max().to_pydatetime()
    if session.get_bind().dialect.name == "postgresql":
        written = _upsert_postgresql(session, _observation_rows(frame, station_ids))
    else:
        written = _upsert_sqlite(session, _observation_rows(frame, station_ids))
    return WriteResult(len(frame), written, latest)


_STAGE_DDL = """
CREATE TEMPORARY TABLE IF NOT EXISTS _streamflow_obs_stage (
    station_id integer NOT NULL,
    observed_at timestamptz NOT NULL,
    discharge double precision NOT NULL,
    unit varchar(10) NOT NULL,
    type varchar(20) NOT NULL,
    quality_code varchar(10)
) ON COMMIT DELETE ROWS
"""


def _upsert_postgresql(session: Session, rows: Iterable[tuple]) -> int:
    """COPY into a per-connection staging table, then one INSERT … ON CONFLICT from it."""
    connection = session.connection()
    connection.execute(text(_STAGE_DDL))
    connection.execute(text("TRUNCATE _streamflow_obs_stage"))
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(
            "COPY _streamflow_obs_stage (station_id, observed_at, discharge, unit, type, quality_code) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
    result = connection.execute(text(load_sql("upsert_observations_postgresql.sql")))
    written = result.rowcount or 0
    connection.execute(text("TRUNCATE _streamflow_obs_stage"))
    return written


def _upsert_sqlite(session: Session, rows: Iterable[tuple]) -> int:
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
    )
    connection = session.connection()
    before = connection.exec_driver_sql("SELECT total_changes()").scalar()
    batch: list[dict] = []
    keys = ("station_id", "observed_at", "discharge", "unit", "type", "quality_code")
    for row in rows:
        batch.append(dict(zip(keys, row, strict=True)))
        if len(batch) >= SQLITE_BATCH_ROWS:
            connection.execute(stmt, batch)
            batch = []
    if batch:
        connection.execute(stmt, batch)
    return connection.exec_driver_sql("SELECT total_changes()").scalar() - before


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
    """Overwrite: delete what is stored for the station/type in [start, end], then write ``frame``."""
    station_id = station_ids[station_number]
    session.execute(
        delete(DischargeObservation).where(
            DischargeObservation.station_id == station_id,
            DischargeObservation.type == data_type,
            DischargeObservation.observed_at >= _utc(start, "start"),
            DischargeObservation.observed_at <= _utc(end, "end"),
        )
    )
    return upsert_observations(session, frame, station_ids)


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
    """Insert a configuration with its stations (validate it first: ``streamflow.config``)."""
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
    one query, stable order."""
    from streamflow.db.types import UtcDateTime

    result = session.execute(
        text(load_sql("load_configurations.sql")).columns(pull_start_date=UtcDateTime()),
        {"config_id": config_id},
    ).mappings()
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

