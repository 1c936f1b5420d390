"""Repository functions for managing configurations and seeing what they did (the Streamflow pages).

Each takes a session and never commits (callers own transactions), like ``streamflow.db.repository``.
Portable between SQLite and PostgreSQL; every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

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
from streamflow.db.repository import get_configuration, get_master_stations
from streamflow.vocabulary import FORECAST_SOURCE, OBSERVATION_TYPES, DataType, MappingTarget

# Upper bounds of what one page request reads (no request reads unbounded rows).
MAX_SERIES_POINTS = 20_000
MAX_FORECAST_RUNS = 3
RECENT_LOGS = 20


# --------------------------------------------------------------------------- writing configurations


def _station_rows(session: Session, stations: Sequence[Mapping[str, Any]]) -> list[PullConfigurationStation]:
    masters = get_master_stations(session, [s["station_number"] for s in stations])
    rows = []
    for spec in stations:
        master = masters.get(spec["station_number"])
        rows.append(
            PullConfigurationStation(
                station_number=spec["station_number"],
                agency=spec.get("agency") or (master.agency if master else None),
                station_name=spec.get("station_name") or (master.station_name if master else None),
                huc_code=master.huc_code if master else None,
                state=master.state_code if master else None,
            )
        )
    return rows


def update_configuration(
    session: Session, config_id: int, *, stations: Sequence[Mapping[str, Any]] | None = None, **fields: Any
) -> PullConfiguration | None:
    """Change a configuration's columns (``fields``) and, when given, replace its station list.

    Stations kept from before keep their rows; removed ones go, new ones are added with their
    ``master_stations`` metadata. ``None`` when the configuration does not exist.
    """
    config = get_configuration(session, config_id)
    if config is None:
        return None
    allowed = {c.key for c in PullConfiguration.__table__.columns} - {"id", "created_at", "updated_at"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise KeyError(f"configuration {config_id}: no column(s) {', '.join(unknown)}")
    for key, value in fields.items():
        setattr(config, key, value)
    if stations is not None:
        wanted = [s["station_number"] for s in stations]
        kept = {row.station_number: row for row in config.stations if row.station_number in wanted}
        config.stations[:] = [row for row in config.stations if row.station_number in kept]
        config.stations.extend(
            _station_rows(session, [s for s in stations if s["station_number"] not in kept])
        )
    config.updated_at = datetime.now(UTC)
    session.flush()
    return config


def clone_configuration(
    session: Session, config_id: int, *, name: str | None = None
) -> PullConfiguration | None:
    """A copy of the configuration and its stations, disabled (so it pulls nothing until enabled)."""
    source = get_configuration(session, config_id)
    if source is None:
        return None
    copy = PullConfiguration(
        name=(name or f"Copy of {source.name}")[:100],
        description=source.description,
        data_type=source.data_type,
        data_strategy=source.data_strategy,
        pull_start_date=source.pull_start_date,
        schedule_type=source.schedule_type,
        schedule_value=source.schedule_value,
        is_enabled=False,
    )
    for row in source.stations:
        copy.stations.append(
            PullConfigurationStation(
                station_number=row.station_number,
                station_name=row.station_name,
                huc_code=row.huc_code,
                state=row.state,
                agency=row.agency,
            )
        )
    session.add(copy)
    session.flush()
    return copy


def delete_configuration(session: Session, config_id: int) -> bool:
    """Remove a configuration with its stations, progress and run log rows.

    Stored observations and forecasts stay: they belong to stations, not to configurations.
    """
    exists = session.execute(select(PullConfiguration.id).where(PullConfiguration.id == config_id)).scalar()
    if exists is None:
        return False
    for model in (PullConfigurationStation, PullStationProgress, DataPullLog):
        session.execute(delete(model).where(model.config_id == config_id))
    session.execute(delete(PullConfiguration).where(PullConfiguration.id == config_id))
    session.flush()
    return True


# --------------------------------------------------------------------------- station facts


def noaa_mapped(session: Session, station_numbers: Iterable[str]) -> set[str]:
    """Which of the stations have a NOAA-HADS location id in ``station_mappings`` (either direction)."""
    numbers = sorted(set(station_numbers))
    if not numbers:
        return set()
    target = MappingTarget.NOAA_HADS.value
    direct = select(StationMapping.source_id).where(
        StationMapping.source_id.in_(numbers), StationMapping.target_agency == target
    )
    reverse = select(StationMapping.target_id).where(
        StationMapping.target_id.in_(numbers), StationMapping.source_agency == target
    )
    return set(session.scalars(direct)) | set(session.scalars(reverse))


def master_station_facts(session: Session, station_numbers: Iterable[str]) -> dict[str, MasterStation]:
    return get_master_stations(session, station_numbers)


def unknown_stations(session: Session, station_numbers: Iterable[str]) -> list[str]:
    """Station numbers not listed in ``master_stations``."""
    numbers = sorted(set(station_numbers))
    known = set(get_master_stations(session, numbers))
    return [n for n in numbers if n not in known]


def rows_stored(session: Session, station_numbers: Iterable[str]) -> dict[str, dict[str, int]]:
    """{station: {data type or forecast source: rows}}: observations by type, forecast runs by source."""
    numbers = sorted(set(station_numbers))
    result: dict[str, dict[str, int]] = {n: {} for n in numbers}
    if not numbers:
        return result
    counted = (
        (DischargeObservation.type, DischargeObservation.station_id),  # observations by data type
        (ForecastRun.source, ForecastRun.station_id),  # forecast runs by source
    )
    for kind, station_id in counted:
        rows = session.execute(
            select(Station.station_number, kind, func.count())
            .join(station_id.table, station_id == Station.id)
            .where(Station.station_number.in_(numbers))
            .group_by(Station.station_number, kind)
        )
        for number, key, count in rows:
            result[number][key] = int(count)
    return result


def stored_key(data_type: str) -> str:
    """The key of ``rows_stored`` that counts what a configuration of ``data_type`` writes."""
    try:
        kind = DataType(data_type)
    except ValueError:
        return data_type
    return FORECAST_SOURCE.get(kind, kind.value)


# --------------------------------------------------------------------------- configurations list


@dataclass
class ConfigurationSummary:
    config: PullConfiguration
    station_count: int
    rows_stored: int
    last_run_status: str | None = None
    last_run_at: datetime | None = None
    last_run_id: str | None = None


def configuration_summaries(session: Session) -> list[ConfigurationSummary]:
    """Every configuration with its station count, rows stored of its type and its latest run."""
    configs = list(session.scalars(select(PullConfiguration).order_by(PullConfiguration.id)))
    counts = dict(
        session.execute(
            select(PullConfigurationStation.config_id, func.count()).group_by(
                PullConfigurationStation.config_id
            )
        ).all()
    )
    latest_ids = select(func.max(DataPullLog.id)).group_by(DataPullLog.config_id)
    latest = {
        log.config_id: log
        for log in session.scalars(select(DataPullLog).where(DataPullLog.id.in_(latest_ids)))
    }
    stored = _rows_stored_per_configuration(session)
    summaries = []
    for config in configs:
        log = latest.get(config.id)
        summaries.append(
            ConfigurationSummary(
                config=config,
                station_count=int(counts.get(config.id, 0)),
                rows_stored=stored.get(config.id, 0),
                last_run_status=log.status if log else None,
                last_run_at=(log.end_time or log.start_time) if log else config.last_run_at,
                last_run_id=log.dag_run_id if log else None,
            )
        )
    return summaries


def _rows_stored_per_configuration(session: Session) -> dict[int, int]:
    """Rows of each configuration's data type stored for its stations (observations or forecast runs)."""
    result: dict[int, int] = {}
    observation_types = [t.value for t in OBSERVATION_TYPES]
    obs = session.execute(
        select(PullConfiguration.id, func.count(DischargeObservation.id))
        .join(PullConfigurationStation, PullConfigurationStation.config_id == PullConfiguration.id)
        .join(Station, Station.station_number == PullConfigurationStation.station_number)
        .join(
            DischargeObservation,
            (DischargeObservation.station_id == Station.id)
            & (DischargeObservation.type == PullConfiguration.data_type),
        )
        .where(PullConfiguration.data_type.in_(observation_types))
        .group_by(PullConfiguration.id)
    )
    result.update({config_id: int(count) for config_id, count in obs})
    for kind, source in FORECAST_SOURCE.items():
        runs = session.execute(
            select(PullConfiguration.id, func.count(ForecastRun.id))
            .join(PullConfigurationStation, PullConfigurationStation.config_id == PullConfiguration.id)
            .join(Station, Station.station_number == PullConfigurationStation.station_number)
            .join(ForecastRun, (ForecastRun.station_id == Station.id) & (ForecastRun.source == source))
            .where(PullConfiguration.data_type == kind.value)
            .group_by(PullConfiguration.id)
        )
        result.update({config_id: int(count) for config_id, count in runs})
    return result


# --------------------------------------------------------------------------- one configuration


@dataclass
class StationStatus:
    station_number: str
    station_name: str | None
    agency: str | None
    state: str | None
    huc_code: str | None
    last_successful: datetime | None
    status: str | None  # of the latest run that reported this station
    message: str | None
    run_id: str | None
    source: str | None
    rows: dict[str, int] = field(default_factory=dict)


def recent_logs(session: Session, config_id: int, limit: int = RECENT_LOGS) -> list[DataPullLog]:
    return list(
        session.scalars(
            select(DataPullLog)
            .where(DataPullLog.config_id == config_id)
            .order_by(DataPullLog.id.desc())
            .limit(limit)
        )
    )


def station_statuses(session: Session, config_id: int) -> list[StationStatus]:
    """Each station of the configuration: progress, its latest reported outcome, rows stored."""
    config = get_configuration(session, config_id)
    if config is None:
        return []
    numbers = [row.station_number for row in config.stations]
    progress = dict(
        session.execute(
            select(PullStationProgress.station_number, PullStationProgress.last_successful_pull_date).where(
                PullStationProgress.config_id == config_id
            )
        ).all()
    )
    outcomes: dict[str, tuple[dict[str, Any], str | None]] = {}
    for log in recent_logs(session, config_id, limit=50):
        for number, detail in (log.details or {}).items() if isinstance(log.details, dict) else ():
            if number not in outcomes and isinstance(detail, dict):
                outcomes[number] = (detail, log.dag_run_id)
    stored = rows_stored(session, numbers)
    result = []
    for row in config.stations:
        detail, run_id = outcomes.get(row.station_number, ({}, None))
        result.append(
            StationStatus(
                station_number=row.station_number,
                station_name=row.station_name,
                agency=row.agency,
                state=row.state,
                huc_code=row.huc_code,
                last_successful=progress.get(row.station_number),
                status=detail.get("status"),
                message=detail.get("message"),
                run_id=run_id,
                source=detail.get("source"),
                rows=stored.get(row.station_number, {}),
            )
        )
    return result


# --------------------------------------------------------------------------- hydrograph


def observed_series(
    session: Session, station_number: str, data_type: str, start: datetime, end: datetime
) -> tuple[list[tuple[datetime, float]], str | None, bool]:
    """Observed discharge of a station in [start, end]: (points, unit, truncated).

    At most ``MAX_SERIES_POINTS`` points (the earliest ones); ``truncated`` says there were more.
    """
    rows = session.execute(
        select(DischargeObservation.observed_at, DischargeObservation.discharge, DischargeObservation.unit)
        .join(Station, Station.id == DischargeObservation.station_id)
        .where(
            Station.station_number == station_number,
            DischargeObservation.type == data_type,
            DischargeObservation.observed_at >= start,
            DischargeObservation.observed_at <= end,
        )
        .order_by(DischargeObservation.observed_at)
        .limit(MAX_SERIES_POINTS + 1)
    ).all()
    truncated = len(rows) > MAX_SERIES_POINTS
    rows = rows[:MAX_SERIES_POINTS]
    unit = rows[-1][2] if rows else None
    return [(when, value) for when, value, _ in rows], unit, truncated


def latest_forecasts(
    session: Session,
    station_number: str,
    *,
    sources: Sequence[str] | None = None,
    limit: int = MAX_FORECAST_RUNS,
) -> list[ForecastRun]:
    """The latest stored forecast run of each source (of ``sources``, default all), newest first."""
    query = (
        select(ForecastRun)
        .join(Station, Station.id == ForecastRun.station_id)
        .where(Station.station_number == station_number)
    )
    if sources:
        query = query.where(ForecastRun.source.in_(list(sources)))
    newest = {}
    for run in session.scalars(query.order_by(ForecastRun.run_date.desc()).limit(50)):
        newest.setdefault(run.source, run)
    return sorted(newest.values(), key=lambda r: r.run_date, reverse=True)[:limit]


def observation_range(
    session: Session, station_number: str, data_type: str
) -> tuple[datetime | None, datetime | None]:
    """First and last instant stored for the station and type."""
    first, last = session.execute(
        select(func.min(DischargeObservation.observed_at), func.max(DischargeObservation.observed_at))
        .join(Station, Station.id == DischargeObservation.station_id)
        .where(Station.station_number == station_number, DischargeObservation.type == data_type)
    ).one()
    return first, last


# --------------------------------------------------------------------------- health


@dataclass
class FailingStation:
    config_id: int
    config_name: str
    dag_id: str | None
    run_id: str | None
    station_number: str
    source: str | None
    message: str | None
    when: datetime | None


@dataclass
class StaleStation:
    config_id: int
    config_name: str
    data_type: str
    station_number: str
    last_successful: datetime | None
    interval: timedelta
    limit: timedelta


def failing_stations(session: Session) -> list[FailingStation]:
    """Stations whose latest reported outcome (in their configuration's runs) is ``failed``."""
    names = dict(session.execute(select(PullConfiguration.id, PullConfiguration.name)).all())
    seen: set[tuple[int, str]] = set()
    failing: list[FailingStation] = []
    logs = session.scalars(
        select(DataPullLog)
        .where(DataPullLog.end_time.is_not(None))
        .order_by(DataPullLog.id.desc())
        .limit(500)
    )
    for log in logs:
        details = log.details if isinstance(log.details, dict) else {}
        for number, detail in details.items():
            key = (log.config_id, number)
            if key in seen or not isinstance(detail, dict):
                continue
            seen.add(key)
            if detail.get("status") == "failed":
                failing.append(
                    FailingStation(
                        config_id=log.config_id,
                        config_name=names.get(log.config_id, "?"),
                        dag_id=log.dag_id,
                        run_id=log.dag_run_id,
                        station_number=number,
                        source=detail.get("source"),
                        message=detail.get("message"),
                        when=log.end_time,
                    )
                )
    return failing


def stale_stations(
    session: Session,
    intervals: Mapping[int, timedelta],
    multiples: Mapping[str, float],
    *,
    now: datetime | None = None,
) -> list[StaleStation]:
    """Stations of enabled, scheduled configurations with no new data for longer than
    ``multiples[data_type]`` × the configuration's schedule interval (``intervals[config_id]``)."""
    now = now or datetime.now(UTC)
    if not intervals:
        return []
    configs = session.scalars(
        select(PullConfiguration).where(
            PullConfiguration.id.in_(list(intervals)), PullConfiguration.is_enabled.is_(True)
        )
    ).all()
    stale: list[StaleStation] = []
    for config in configs:
        limit = intervals[config.id] * multiples.get(config.data_type, 3.0)
        progress = dict(
            session.execute(
                select(
                    PullStationProgress.station_number, PullStationProgress.last_successful_pull_date
                ).where(PullStationProgress.config_id == config.id)
            ).all()
        )
        # A configuration younger than the limit cannot be stale yet.
        born = config.created_at or config.pull_start_date
        for row in config.stations:
            last = progress.get(row.station_number)
            reference = last or born
            if reference is not None and now - reference > limit:
                stale.append(
                    StaleStation(
                        config_id=config.id,
                        config_name=config.name,
                        data_type=config.data_type,
                        station_number=row.station_number,
                        last_successful=last,
                        interval=intervals[config.id],
                        limit=limit,
                    )
                )
    return stale


def failed_runs(session: Session, *, since: datetime) -> list[tuple[DataPullLog, str]]:
    """Runs that ended failed since ``since`` with their configuration's name, newest first."""
    rows = session.execute(
        select(DataPullLog, PullConfiguration.name)
        .join(PullConfiguration, PullConfiguration.id == DataPullLog.config_id)
        .where(
            DataPullLog.status == "failed",
            or_(DataPullLog.end_time >= since, DataPullLog.start_time >= since),
        )
        .order_by(DataPullLog.id.desc())
        .limit(200)
    ).all()
    return [(log, name) for log, name in rows]


# --------------------------------------------------------------------------- forecast mappings, history (CLI)


def forecast_mapping_targets(data_type: str) -> tuple[str, ...]:
    """The ``station_mappings`` targets through which a forecast configuration reaches NOAA, in the
    order the forecast pull tries them: RFC needs the NWS location id (NOAA-HADS); NWM takes a reach id
    (NOAA-NWM) or looks it up from the NWS location id. Empty for observation types."""
    try:
        kind = DataType(data_type)
    except ValueError:
        return ()
    if kind == DataType.RFC_FORECAST:
        return (MappingTarget.NOAA_HADS.value,)
    if kind.is_forecast:
        return (MappingTarget.NOAA_NWM.value, MappingTarget.NOAA_HADS.value)
    return ()


def unmapped_forecast_stations(
    session: Session, data_type: str, stations: Iterable[tuple[str, str]]
) -> list[str]:
    """Station numbers of ``stations`` ((number, agency) pairs) that a ``data_type`` forecast pull
    would skip: no ``station_mappings`` row to any of ``forecast_mapping_targets(data_type)``, read
    the way ``streamflow.db.repository.resolve_station_id`` reads it (from the station's agency,
    or the reverse row). Empty for observation types."""
    targets = forecast_mapping_targets(data_type)
    pairs = sorted(set(stations))
    if not targets or not pairs:
        return []
    numbers = sorted({number for number, _agency in pairs})
    direct = session.execute(
        select(StationMapping.source_agency, StationMapping.source_id).where(
            StationMapping.source_id.in_(numbers), StationMapping.target_agency.in_(targets)
        )
    )
    reverse = session.execute(
        select(StationMapping.target_agency, StationMapping.target_id).where(
            StationMapping.target_id.in_(numbers), StationMapping.source_agency.in_(targets)
        )
    )
    mapped = {(number, agency) for agency, number in [*direct, *reverse]}
    return sorted({number for number, agency in pairs if (number, agency) not in mapped})


@dataclass
class ConfigurationHistory:
    """What a configuration has recorded besides its own row and stations."""

    progress_rows: int  # pull_station_progress
    pull_log_rows: int  # data_pull_logs

    @property
    def empty(self) -> bool:
        return not (self.progress_rows or self.pull_log_rows)


def configuration_history(session: Session, config_id: int) -> ConfigurationHistory:
    def count(model) -> int:
        query = select(func.count()).select_from(model).where(model.config_id == config_id)
        return int(session.execute(query).scalar())

    return ConfigurationHistory(progress_rows=count(PullStationProgress), pull_log_rows=count(DataPullLog))
