"""What pulls leave behind, written with the project's own functions, for the pages' tests.

Observations and forecasts go through the repository's writers; a run's log row is folded from
per-station outcomes by ``streamflow.outcomes.summarize``, as the DAG's ``finalize`` task does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from streamflow.canonical import ForecastRunData
from streamflow.db import repository as repo
from streamflow.outcomes import StationOutcome, summarize


def _store_observations(
    session: Session, station: str, data_type: str, quality: str, times: Sequence[datetime], flows: Sequence[float]
) -> int:
    import pandas as pd

    station_id = repo.ensure_station(session, station, "USGS")
    frame = pd.DataFrame(
        {
            "station_number": station,
            "observed_at": pd.DatetimeIndex(times),
            "discharge": list(flows),
            "unit": "cfs",
            "data_type": data_type,
            "quality_code": quality,
        }
    )
    repo.upsert_observations(session, frame, {station: station_id})
    return station_id


def store_daily_means(
    session: Session, station: str, days: Sequence[datetime], flows: Sequence[float]
) -> int:
    """Daily means (cfs, approved) of a USGS station; returns its ``stations.id``."""
    return _store_observations(session, station, "daily_mean", "A", days, flows)


def store_realtime(
    session: Session, station: str, times: Sequence[datetime], flows: Sequence[float]
) -> int:
    """Real-time (``realtime_15min``) observations (cfs, provisional) of a USGS station; returns its ``stations.id``."""
    return _store_observations(session, station, "realtime_15min", "P", times, flows)


def store_forecast(
    session: Session,
    station: str,
    source: str,
    data_type: str,
    issued: datetime,
    unit: str,
    values: Sequence[tuple[datetime, float]],
) -> None:
    station_id = repo.ensure_station(session, station, "USGS")
    run = ForecastRunData(station, source, data_type, issued, unit, tuple(values))
    repo.insert_forecast_run(session, station_id, run)


def store_rfc_forecast(
    session: Session, station: str, issued: datetime, unit: str, values: Sequence[tuple[datetime, float]]
) -> None:
    store_forecast(session, station, "NOAA_RFC", "rfc_forecast", issued, unit, values)


def record_run(
    session: Session, config_id: int, run_id: str, start: datetime, outcomes: Sequence[StationOutcome]
) -> None:
    """A finished run of the configuration's DAG with these per-station outcomes."""
    summary = summarize([o.to_dict() for o in outcomes], [o.station_number for o in outcomes])
    log_id = repo.open_pull_log(
        session,
        config_id=config_id,
        dag_id=f"streamflow_config_{config_id}",
        dag_run_id=run_id,
        stations_total=len(outcomes),
        start_time=start,
    )
    repo.close_pull_log(
        session,
        log_id,
        status=summary.status,
        records_processed=summary.records_processed,
        stations_failed=len(summary.stations_failed),
        details=summary.details,
        error_message=summary.error_message,
        end_time=start + timedelta(minutes=2),
    )
