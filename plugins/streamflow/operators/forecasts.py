"""Forecast pulls: NOAA NWPS RFC stageflow forecasts and National Water Model runs.

The station → NOAA-HADS LID → NWM reach lookups (``station_mappings``, else the NWPS gauge
metadata) live here, next to the pull that needs them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from streamflow.configurations import StationSpec
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.operators.base import PullTarget, StationPullOperator, ensure_station_id
from streamflow.outcomes import StationOutcome
from streamflow.timeutil import iso_z
from streamflow.trigger_params import RunParams
from streamflow.vocabulary import FORECAST_SOURCE, DataType, MappingTarget, Source

if TYPE_CHECKING:  # hooks (pandas) load in the worker, not at DAG parse time
    from streamflow.canonical import ForecastRunData
    from streamflow.hooks.noaa import NoaaNwpsHook

log = logging.getLogger(__name__)


class ForecastPullOperator(StationPullOperator):
    """Store the newest RFC or NWM forecast run of one station, once per issue time."""

    source = Source.NOAA.value
    ui_color = "#e3d9ff"

    def pull(self, engine: Engine, station: StationSpec, params: RunParams) -> StationOutcome:
        from streamflow.hooks.noaa import NoaaNwpsHook

        return pull_forecasts(engine=engine, hook=NoaaNwpsHook(), target=self.target, station=station, logger=self.log)


def _mapped(engine: Engine, station: StationSpec, target: MappingTarget) -> str | None:
    with session_scope(engine) as session:
        return repo.resolve_station_id(session, station.station_number, station.agency.value, target.value)


def lid_for(engine: Engine, station: StationSpec) -> str | None:
    """The station's NWS location id (``station_mappings`` → NOAA-HADS)."""
    return _mapped(engine, station, MappingTarget.NOAA_HADS)


def reach_for(engine: Engine, hook: NoaaNwpsHook, station: StationSpec, lid: str | None) -> str | None:
    """The station's NWM reach: ``station_mappings`` → NOAA-NWM, else the NWPS gauge of ``lid``."""
    reach = _mapped(engine, station, MappingTarget.NOAA_NWM)
    if reach is None and lid is not None:
        reach = hook.get_gauge(lid, station_number=station.station_number).get("reach_id")
    return reach


def pull_forecasts(
    *,
    engine: Engine,
    hook: NoaaNwpsHook,
    target: PullTarget,
    station: StationSpec,
    logger: logging.Logger | None = None,
) -> StationOutcome:
    """Store the station's newest forecast run(s) once each; skip a station without a mapping."""
    logger = logger or log
    name = f"{hook.source}: station {station.station_number}"
    outcome = StationOutcome(station.station_number, hook.source)
    lid = lid_for(engine, station)
    dropped_before = hook.values_dropped
    runs: list[ForecastRunData]
    if target.data_type == DataType.RFC_FORECAST:
        if lid is None:
            return _skip(outcome, logger, name, f"no {MappingTarget.NOAA_HADS.value} mapping (NWS location id)")
        outcome.window = f"latest RFC forecast of {lid}"
        run = hook.get_rfc_forecast(lid, station_number=station.station_number)
        runs = [run] if run is not None else []
    else:
        reach = reach_for(engine, hook, station, lid)
        if reach is None:
            missing = f"no {MappingTarget.NOAA_NWM.value} mapping (NWM reach id)" + (
                "" if lid else f" and no {MappingTarget.NOAA_HADS.value} mapping to look it up"
            )
            return _skip(outcome, logger, name, missing)
        outcome.window = f"latest {target.data_type.value} run of reach {reach}"
        runs = hook.get_nwm_forecast(reach, target.data_type, station_number=station.station_number)
    outcome.rows_fetched = len(runs)
    outcome.values_dropped = hook.values_dropped - dropped_before  # NaN/±inf/overflows: never stored
    if not runs:
        outcome.status, outcome.message = "nothing", "no forecast issued"
        logger.info("%s: %s: no forecast available", name, outcome.window)
        return outcome
    # forecasts name our own stations; their rows come from master_stations, not the NWPS
    station_id = ensure_station_id(engine, station, lambda: None)
    expected_source = FORECAST_SOURCE[target.data_type]
    for run in sorted(runs, key=lambda r: r.run_date):
        with session_scope(engine) as session:
            stored = repo.insert_forecast_run(session, station_id, run)
            reached = repo.advance_progress(session, target.config_id, station.station_number, run.run_date)
        outcome.rows_written += int(stored)
        outcome.progress = iso_z(reached)
        logger.info(
            "%s: %s run issued %s (%d value(s), %s): %s",
            name, run.source or expected_source, iso_z(run.run_date), len(run.values), run.unit,
            "stored" if stored else "already stored, skipped",
        )
    return outcome


def _skip(outcome: StationOutcome, logger: logging.Logger, name: str, why: str) -> StationOutcome:
    outcome.status = "skipped"
    outcome.message = f"skipped: {why}"
    logger.warning("%s: skipped: %s", name, why)
    return outcome


def _skip(outcome: StationOutcome, logger: logging.Logger, name: str, why: str) -> StationOutcome:
    outcome.status = "skipped"
    outcome.message = f"skipped: {why}"
    logger.warning("%s: skipped: %s", name, why)
    return outcome
