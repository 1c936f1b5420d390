"""Example pull configurations, one per source and data type (``streamflow config examples``).

They use gauges the recorded test fixtures cover, so the tests and the one-command start use the
same rows. Start dates are fixed so runs are reproducible.
"""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc

EXAMPLES: tuple[dict, ...] = (
    {
        "name": "USGS daily means - Potomac at Little Falls",
        "description": "Daily mean discharge (00060/00003) from the USGS Water Data API.",
        "data_type": "daily_mean",
        "data_strategy": "append",
        "pull_start_date": datetime(2020, 1, 1, tzinfo=UTC),
        "schedule_type": "daily",
        "schedule_value": "0 6 * * *",
        "stations": [{"station_number": "01646500", "agency": "USGS"}],
    },
    {
        "name": "USGS instantaneous - Potomac at Little Falls",
        "description": "15-minute discharge (continuous, 00060) from the USGS Water Data API.",
        "data_type": "realtime_15min",
        "data_strategy": "append",
        "pull_start_date": datetime(2026, 9, 1, tzinfo=UTC),
        "schedule_type": "hourly",
        "schedule_value": None,
        "stations": [{"station_number": "01646500", "agency": "USGS"}],
    },
    {
        "name": "EC instantaneous - Fraser at Hope, Francis River",
        "description": "5-minute discharge from the ECCC Datamart and Water Office real-time service.",
        "data_type": "realtime_15min",
        "data_strategy": "append",
        "pull_start_date": datetime(2025, 10, 1, tzinfo=UTC),
        "schedule_type": "hourly",
        "schedule_value": None,
        "stations": [{"station_number": "08MF005", "agency": "EC"}, {"station_number": "10AB001", "agency": "EC"}],
    },
    {
        "name": "EC daily means - Fraser at Hope",
        "description": "HYDAT daily mean discharge from the ECCC Water Office.",
        "data_type": "daily_mean",
        "data_strategy": "append",
        "pull_start_date": datetime(2020, 1, 1, tzinfo=UTC),
        "schedule_type": "weekly",
        "schedule_value": None,
        "stations": [{"station_number": "08MF005", "agency": "EC"}],
    },
    {
        "name": "NOAA RFC forecast - Potomac at Little Falls",
        "description": "Official River Forecast Center forecast (NWPS stageflow) via NOAA-HADS id BRKM2.",
        "data_type": "rfc_forecast",
        "data_strategy": "append",
        "pull_start_date": datetime(2026, 1, 1, tzinfo=UTC),
        "schedule_type": "hourly",
        "schedule_value": None,
        "stations": [{"station_number": "01646500", "agency": "USGS"}],
    },
    {
        "name": "NWM short range - Potomac at Little Falls",
        "description": "National Water Model short-range forecast for the gauge's reach (NWPS).",
        "data_type": "nwm_short_range",
        "data_strategy": "append",
        "pull_start_date": datetime(2026, 1, 1, tzinfo=UTC),
        "schedule_type": "hourly",
        "schedule_value": None,
        "stations": [{"station_number": "01646500", "agency": "USGS"}],
    },
)
