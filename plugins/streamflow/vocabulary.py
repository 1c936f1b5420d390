"""The project's one vocabulary (docs/architecture.md#vocabularies). Every other module spells these names from here."""

from __future__ import annotations

from enum import StrEnum


class Agency(StrEnum):
    USGS = "USGS"
    EC = "EC"


class MappingTarget(StrEnum):
    NOAA_HADS = "NOAA-HADS"  # NWS location id (LID), e.g. ANAW1
    NOAA_NWM = "NOAA-NWM"  # National Water Model reach / feature id


class DataType(StrEnum):
    DAILY_MEAN = "daily_mean"
    REALTIME_15MIN = "realtime_15min"
    RFC_FORECAST = "rfc_forecast"
    NWM_SHORT_RANGE = "nwm_short_range"
    NWM_MEDIUM_RANGE = "nwm_medium_range"
    NWM_LONG_RANGE = "nwm_long_range"

    @property
    def is_forecast(self) -> bool:
        return self in FORECAST_TYPES


OBSERVATION_TYPES = frozenset({DataType.DAILY_MEAN, DataType.REALTIME_15MIN})
FORECAST_TYPES = frozenset(
    {DataType.RFC_FORECAST, DataType.NWM_SHORT_RANGE, DataType.NWM_MEDIUM_RANGE, DataType.NWM_LONG_RANGE}
)


class DataStrategy(StrEnum):
    APPEND = "append"
    OVERWRITE = "overwrite"


class ScheduleType(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    CRON = "cron"
    MANUAL = "manual"


class Unit(StrEnum):
    CFS = "cfs"
    CMS = "cms"


class PullStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class Source(StrEnum):
    """Names used in log lines, error messages and ``forecast_runs.source``."""

    USGS = "usgs"
    ECCC = "eccc"
    NOAA = "noaa"


# forecast_runs.source values
FORECAST_SOURCE = {
    DataType.RFC_FORECAST: "NOAA_RFC",
    DataType.NWM_SHORT_RANGE: "NOAA_NWM_SHORT_RANGE",
    DataType.NWM_MEDIUM_RANGE: "NOAA_NWM_MEDIUM_RANGE",
    DataType.NWM_LONG_RANGE: "NOAA_NWM_LONG_RANGE",
}

CFS_PER_CMS = 35.314666721488590  # 1 m³/s = 35.3146667 ft³/s


def infer_agency(station_number: str) -> Agency | None:
    """USGS site numbers are 8–15 digits; WSC station numbers look like ``08MF005``."""
    s = station_number.strip()
    if s.isdigit() and 8 <= len(s) <= 15:
        return Agency.USGS
    if len(s) == 7 and s[:2].isdigit() and s[2:4].isalpha() and s[4:].isdigit():
        return Agency.EC
    return None
