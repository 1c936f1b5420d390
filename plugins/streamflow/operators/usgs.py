"""USGS observations: daily means and instantaneous values from the Water Data API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from streamflow.configurations import StationSpec
from streamflow.operators.base import StationPullOperator
from streamflow.trigger_params import RunParams
from streamflow.pulls import StationOutcome, pull_observations
from streamflow.vocabulary import DataType, Source

if TYPE_CHECKING:  # hooks (pandas, dataretrieval) load in the worker, not at DAG parse time
    import pandas as pd

    from streamflow.hooks.usgs import UsgsWaterDataHook


def _hook() -> UsgsWaterDataHook:
    from streamflow.hooks.usgs import UsgsWaterDataHook

    return UsgsWaterDataHook()


class UsgsSource:
    source = Source.USGS.value

    def __init__(self, hook: UsgsWaterDataHook) -> None:
        self.hook = hook

    def max_chunk(self, data_type: DataType) -> timedelta:
        return self.hook.max_chunk(data_type)

    def earliest(self, data_type: DataType, now: datetime) -> datetime | None:
        return None

    def fetch(self, station: StationSpec, data_type: DataType, start: datetime, end: datetime) -> pd.DataFrame:
        if data_type == DataType.DAILY_MEAN:
            return self.hook.get_daily_means([station.station_number], start, end)
        return self.hook.get_instantaneous([station.station_number], start, end)

    def station_metadata(self, station: StationSpec) -> dict[str, Any] | None:
        return self.hook.get_site_metadata(station.station_number)


class UsgsObservationsOperator(StationPullOperator):
    """Pull one USGS station (``daily_mean`` or ``realtime_15min``) with smart append."""

    source = Source.USGS.value
    ui_color = "#cfe8ff"

    def pull(self, engine, station: StationSpec, params: RunParams) -> StationOutcome:
        source = UsgsSource(_hook())
        return pull_observations(
            engine=engine, source=source, target=self.target, station=station, params=params, logger=self.log
        )
