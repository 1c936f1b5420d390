"""Environment and Climate Change Canada observations (Datamart + Water Office)."""

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

    from streamflow.hooks.eccc import EcccHook


def _hook() -> EcccHook:
    from streamflow.hooks.eccc import EcccHook

    return EcccHook()


class EcccSource:
    source = Source.ECCC.value

    def __init__(self, hook: EcccHook, provinces: dict[str, str] | None = None) -> None:
        self.hook = hook
        self.provinces = provinces or {}

    def max_chunk(self, data_type: DataType) -> timedelta:
        return self.hook.max_chunk(data_type)

    def earliest(self, data_type: DataType, now: datetime) -> datetime | None:
        earliest = getattr(self.hook, "earliest", None)
        return earliest(data_type, now) if earliest else None

    def fetch(self, station: StationSpec, data_type: DataType, start: datetime, end: datetime) -> pd.DataFrame:
        if data_type == DataType.DAILY_MEAN:
            return self.hook.get_daily_means([station.station_number], start, end)
        return self.hook.get_instantaneous([station.station_number], start, end, provinces=self.provinces or None)

    def station_metadata(self, station: StationSpec) -> dict[str, Any] | None:
        return self.hook.get_station_metadata(station.station_number)


class EcccObservationsOperator(StationPullOperator):
    """Pull one EC station (``daily_mean`` or ``realtime_15min``) with smart append."""

    source = Source.ECCC.value
    ui_color = "#ffd9d9"

    def pull(self, engine, station: StationSpec, params: RunParams) -> StationOutcome:
        province = self.station.get("province")
        source = EcccSource(_hook(), {station.station_number: province} if province else None)
        return pull_observations(
            engine=engine, source=source, target=self.target, station=station, params=params, logger=self.log
        )
