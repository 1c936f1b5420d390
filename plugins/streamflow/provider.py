"""Provider metadata (entry point ``apache_airflow_provider``) so Airflow lists our hooks and
connection types in the UI's connection form (docs/architecture.md#trap-connection-types)."""

from __future__ import annotations

from streamflow import __version__


def get_provider_info() -> dict:
    return {
        "package-name": "streamflow-dataops",
        "name": "Streamflow DataOps",
        "description": "Hooks and operators that pull USGS, ECCC and NOAA streamflow into a database.",
        "versions": [__version__],
        "connection-types": [
            {"connection-type": "streamflow_usgs", "hook-class-name": "streamflow.hooks.usgs.UsgsWaterDataHook"},
            {"connection-type": "streamflow_eccc_datamart", "hook-class-name": "streamflow.hooks.eccc.EcccDatamartHook"},
            {
                "connection-type": "streamflow_eccc_wateroffice",
                "hook-class-name": "streamflow.hooks.eccc.EcccWaterOfficeHook",
            },
            {"connection-type": "streamflow_noaa_nwps", "hook-class-name": "streamflow.hooks.noaa.NoaaNwpsHook"},
        ],
    }
