"""NOAA NWPS forecasts: the RFC stageflow forecast and National Water Model runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from streamflow.configurations import StationSpec
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.operators.base import StationPullOperator
from streamflow.trigger_params import RunParams
from streamflow.pulls import StationOutcome, pull_forecasts
from streamflow.vocabulary import DataType, MappingTarget, Source

if TYPE_CHECKING:  # hooks (pandas, dataretrieval) load in the worker, not at DAG parse time
    from streamflow.canonical import ForecastRunData
    from streamflow.hooks.noaa import NoaaNwpsHook


def _hook() -> NoaaNwpsHook:
    from streamflow.hooks.noaa import NoaaNwpsHook

    return NoaaNwpsHook()


class NoaaSource:
    """Station → NOAA-HADS LID (station_mappings) → NWM reach (station_mappings or gauge metadata)."""

    source = Source.NOAA.value

    def __init__(self, hook: NoaaNwpsHook, engine: Engine) -> None:
        self.hook = hook
        self.engine = engine

    def _mapped(self, station: StationSpec, target: MappingTarget) -> str | None:
        with session_scope(self.engine) as session:
            return repo.resolve_station_id(session, station.station_number, station.agency.value, target.value)

    def lid_for(self, station: StationSpec) -> str | None:
        return self._mapped(station, MappingTarget.NOAA_HADS)

    def reach_for(self, station: StationSpec, lid: str | None) -> str | None:
        reach = self._mapped(station, MappingTarget.NOAA_NWM)
        if reach is None and lid is not None:
            reach = self.hook.get_gauge(lid, station_number=station.station_number).get("reach_id")
        return reach

    def rfc_forecast(self, lid: str, station: StationSpec) -> ForecastRunData | None:
        return self.hook.get_rfc_forecast(lid, station_number=station.station_number)

    def nwm_forecast(self, reach_id: str, data_type: DataType, station: StationSpec) -> list[ForecastRunData]:
        return self.hook.get_nwm_forecast(reach_id, data_type, station_number=station.station_number)

    def station_metadata(self, station: StationSpec) -> dict[str, Any] | None:
        return None  # forecasts name our own stations; their rows come from master_stations


class NoaaForecastOperator(StationPullOperator):
    """Store the newest RFC or NWM forecast run of one station, once per issue time."""

    source = Source.NOAA.value
    ui_color = "#e3d9ff"

    def pull(self, engine, station: StationSpec, params: RunParams) -> StationOutcome:
        return pull_forecasts(
            engine=engine, source=NoaaSource(_hook(), engine), target=self.target, station=station,
            logger=self.log,
        )
