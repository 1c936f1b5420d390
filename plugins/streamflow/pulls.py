"""One station's pull, start to finish: plan the window, fetch chunk by chunk, persist each chunk
in one transaction together with its progress (DESIGN §6). Operators are thin wrappers around
these functions; they run (and are tested) without Airflow too.

A failure leaves progress at the last committed chunk, so the retry or the next run resumes there:
nothing is skipped, and the upsert makes the re-read overlap harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, select

from streamflow.configurations import StationSpec
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import MasterStation, Station
from streamflow.errors import StreamflowError
from streamflow.trigger_params import RunParams
from streamflow.windows import plan_window, split_window
from streamflow.vocabulary import FORECAST_SOURCE, DataStrategy, DataType, MappingTarget

if TYPE_CHECKING:
    import pandas as pd

    from streamflow.canonical import ForecastRunData

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


@dataclass
class StationOutcome:
    """What happened to one station in one run; recorded in ``data_pull_logs.details``."""

    station_number: str
    source: str
    status: str = "success"  # success | nothing | skipped | failed
    window: str | None = None
    chunks_total: int = 0
    chunks_done: int = 0
    rows_fetched: int = 0
    rows_written: int = 0
    progress: str | None = None
    message: str | None = None
    retryable: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PullTarget:
    """The configuration facts a station pull needs (a slice of ``PullConfig``)."""

    config_id: int
    data_type: DataType
    strategy: DataStrategy
    pull_start_date: datetime


class ObservationSource(Protocol):
    """What ``pull_observations`` needs from a service (adapters over the hooks)."""

    source: str

    def max_chunk(self, data_type: DataType) -> timedelta: ...

    def earliest(self, data_type: DataType, now: datetime) -> datetime | None: ...

    def fetch(self, station: StationSpec, data_type: DataType, start: datetime, end: datetime) -> pd.DataFrame: ...

    def station_metadata(self, station: StationSpec) -> dict[str, Any] | None: ...


def _station_id(engine: Engine, station: StationSpec, metadata_source: Callable[[], dict | None]) -> int:
    """``stations.id``, creating the row from master_stations or the service's metadata."""
    with session_scope(engine) as session:
        existing = session.execute(select(Station.id).where(Station.station_number == station.station_number)).scalar()
        if existing is not None:
            return existing
        listed = session.execute(
            select(MasterStation.id).where(MasterStation.station_number == station.station_number)
        ).scalar()
    metadata = None
    if listed is None:
        try:
            metadata = metadata_source()
        except StreamflowError as exc:  # metadata is a nicety; the data is what matters
            log.warning("could not read site metadata (%s); the station row is created from its id", exc)
    with session_scope(engine) as session:
        return repo.ensure_station(session, station.station_number, station.agency.value, metadata)


def pull_observations(
    *,
    engine: Engine,
    source: ObservationSource,
    target: PullTarget,
    station: StationSpec,
    params: RunParams,
    now: datetime | None = None,
    logger: logging.Logger | None = None,
) -> StationOutcome:
    """Pull one station's observations for one run. Raises the source's error after logging it."""
    logger = logger or log
    now = now or datetime.now(timezone.utc)
    name = f"{source.source}: station {station.station_number}"
    outcome = StationOutcome(station.station_number, source.source)
    strategy = params.data_strategy or target.strategy
    overwrite = strategy == DataStrategy.OVERWRITE

    with session_scope(engine) as session:
        progress = repo.get_progress(session, target.config_id, station.station_number)
    window = plan_window(
        data_type=target.data_type,
        strategy=strategy,
        pull_start_date=target.pull_start_date,
        progress=progress,
        params=params,
        now=now,
        earliest=source.earliest(target.data_type, now),
    )
    outcome.progress = _iso(progress)
    if window is None:
        outcome.status = "nothing"
        outcome.message = "window is empty: nothing to pull"
        logger.info("%s: nothing to pull (progress %s)", name, outcome.progress)
        return outcome
    chunks = split_window(window, source.max_chunk(target.data_type))
    outcome.window = str(window)
    outcome.chunks_total = len(chunks)
    logger.info("%s: %s window %s (%s), %d chunk(s)", name, strategy.value, window, window.reason, len(chunks))

    station_id = _station_id(engine, station, lambda: source.station_metadata(station))
    ids = {station.station_number: station_id}
    for index, chunk in enumerate(chunks, start=1):
        try:
            frame = source.fetch(station, target.data_type, chunk.start, chunk.end)
        except StreamflowError as exc:
            outcome.status, outcome.message, outcome.retryable = "failed", str(exc), exc.retryable
            logger.error(
                "%s: chunk %d/%d %s failed: %s (progress stays %s)", name, index, len(chunks), chunk, exc,
                outcome.progress,
            )
            raise
        with session_scope(engine) as session:
            if overwrite:
                result = repo.replace_observations(
                    session, frame, ids, station_number=station.station_number,
                    data_type=target.data_type.value, start=chunk.start, end=chunk.end,
                )
            else:
                result = repo.upsert_observations(session, frame, ids)
            if result.latest is not None:
                # Overwrite re-reads from pull_start_date: its first chunk may set progress back.
                reached = repo.advance_progress(
                    session, target.config_id, station.station_number, result.latest,
                    allow_backwards=overwrite and outcome.chunks_done == 0,
                )
                outcome.progress = _iso(reached)
        outcome.chunks_done = index
        outcome.rows_fetched += result.rows_in
        outcome.rows_written += result.rows_written
        logger.info(
            "%s: chunk %d/%d %s: fetched %d row(s), wrote %d, progress %s",
            name, index, len(chunks), chunk, result.rows_in, result.rows_written, outcome.progress,
        )
    if outcome.rows_fetched == 0:
        outcome.status = "nothing"
        outcome.message = "the service returned no data for the window"
    logger.info(
        "%s: done: %d row(s) fetched, %d written in %d chunk(s); progress %s",
        name, outcome.rows_fetched, outcome.rows_written, len(chunks), outcome.progress,
    )
    return outcome


class ForecastSource(Protocol):
    source: str

    def lid_for(self, station: StationSpec) -> str | None: ...

    def reach_for(self, station: StationSpec, lid: str | None) -> str | None: ...

    def rfc_forecast(self, lid: str, station: StationSpec) -> ForecastRunData | None: ...

    def nwm_forecast(self, reach_id: str, data_type: DataType, station: StationSpec) -> list[ForecastRunData]: ...

    def station_metadata(self, station: StationSpec) -> dict[str, Any] | None: ...


def pull_forecasts(
    *,
    engine: Engine,
    source: ForecastSource,
    target: PullTarget,
    station: StationSpec,
    logger: logging.Logger | None = None,
) -> StationOutcome:
    """Store the station's newest forecast run(s) once each; skip a station without a mapping."""
    logger = logger or log
    name = f"{source.source}: station {station.station_number}"
    outcome = StationOutcome(station.station_number, source.source)
    lid = source.lid_for(station)
    runs: list[ForecastRunData]
    if target.data_type == DataType.RFC_FORECAST:
        if lid is None:
            return _skip(outcome, logger, name, f"no {MappingTarget.NOAA_HADS.value} mapping (NWS location id)")
        outcome.window = f"latest RFC forecast of {lid}"
        run = source.rfc_forecast(lid, station)
        runs = [run] if run is not None else []
    else:
        reach = source.reach_for(station, lid)
        if reach is None:
            missing = f"no {MappingTarget.NOAA_NWM.value} mapping (NWM reach id)" + (
                "" if lid else f" and no {MappingTarget.NOAA_HADS.value} mapping to look it up"
            )
            return _skip(outcome, logger, name, missing)
        outcome.window = f"latest {target.data_type.value} run of reach {reach}"
        runs = source.nwm_forecast(reach, target.data_type, station)
    outcome.rows_fetched = len(runs)
    if not runs:
        outcome.status, outcome.message = "nothing", "no forecast issued"
        logger.info("%s: %s: no forecast available", name, outcome.window)
        return outcome
    station_id = _station_id(engine, station, lambda: source.station_metadata(station))
    expected_source = FORECAST_SOURCE[target.data_type]
    for run in sorted(runs, key=lambda r: r.run_date):
        with session_scope(engine) as session:
            stored = repo.insert_forecast_run(session, station_id, run)
            reached = repo.advance_progress(session, target.config_id, station.station_number, run.run_date)
        outcome.rows_written += int(stored)
        outcome.progress = _iso(reached)
        logger.info(
            "%s: %s run issued %s (%d value(s), %s): %s",
            name, run.source or expected_source, _iso(run.run_date), len(run.values), run.unit,
            "stored" if stored else "already stored, skipped",
        )
    return outcome


def _skip(outcome: StationOutcome, logger: logging.Logger, name: str, why: str) -> StationOutcome:
    outcome.status = "skipped"
    outcome.message = f"skipped: {why}"
    logger.warning("%s: skipped: %s", name, why)
    return outcome


@dataclass
class RunSummary:
    status: str
    records_processed: int
    stations_failed: list[str] = field(default_factory=list)
    error_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def summarize(outcomes: list[dict[str, Any]], expected: list[str]) -> RunSummary:
    """Fold per-station outcomes into the run's log row; a station with no outcome failed."""
    by_station = {o["station_number"]: o for o in outcomes if o}
    details: dict[str, Any] = {}
    failed: list[str] = []
    for number in expected:
        outcome = by_station.get(number)
        if outcome is None:
            outcome = StationOutcome(number, "?", status="failed", message="the station's task ended without an outcome (killed, timed out or not run)").to_dict()
        details[number] = outcome
        if outcome["status"] == "failed":
            failed.append(number)
    records = sum(int(o.get("rows_written") or 0) for o in details.values())
    error = None
    if failed:
        error = f"{len(failed)} of {len(expected)} station(s) failed: " + "; ".join(
            f"{n}: {details[n].get('message')}" for n in failed
        )
    return RunSummary("failed" if failed else "success", records, failed, error, details)
