"""Pure payload → canonical shape functions, one module per source (no HTTP, no Airflow).

Importing this package (``streamflow.hooks`` imports it first) installs one logging filter, before
any ``dataretrieval`` import: dataretrieval 1.4 warns "Geopandas not installed" when it is first
imported, in every USGS task log. We never use geometries (coordinates are read as plain numbers),
so that one line is third-party noise; the filter sits on the library's logger and drops only it.
"""

from __future__ import annotations

import logging

NOISY_LIBRARY_LINES: dict[str, tuple[str, ...]] = {
    "dataretrieval.ogc.shaping": ("Geopandas not installed",),
}


class _DropLines(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def quiet_library_noise() -> None:
    """Install the filters once (idempotent)."""
    for name, prefixes in NOISY_LIBRARY_LINES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines(prefixes))


quiet_library_noise()
