"""The canonical shapes every hook returns (STYLE: one vocabulary, one canonical frame).

Observations: a pandas DataFrame with exactly ``OBSERVATION_COLUMNS`` and ``OBSERVATION_DTYPES``;
``observed_at`` is UTC-aware; an empty result keeps the dtypes. Forecasts: ``ForecastRunData``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from streamflow.errors import ConfigurationError
from streamflow.timeutil import iso_z

OBSERVATION_COLUMNS = ["station_number", "observed_at", "discharge", "unit", "quality_code", "data_type"]
OBSERVATION_DTYPES = {
    "station_number": "object",
    "observed_at": "datetime64[us, UTC]",
    "discharge": "float64",
    "unit": "object",
    "quality_code": "object",
    "data_type": "object",
}


def empty_observations() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in OBSERVATION_DTYPES.items()})


def canonical_observations(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce ``frame`` to the canonical columns and dtypes, sorted, one row per instant.

    Rows without a discharge value are dropped (a missing value is not a measurement); when a
    station reports the same instant twice the last row wins.
    """
    missing = [c for c in OBSERVATION_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"observation frame lacks columns {missing}")
    if frame.empty:
        return empty_observations()
    if _already_canonical(frame):  # a hook's chunk handed on to the repository: nothing to redo
        return frame.copy(deep=False)
    out = frame[OBSERVATION_COLUMNS].copy()
    observed = pd.to_datetime(out["observed_at"], utc=True)
    out["observed_at"] = observed.astype(OBSERVATION_DTYPES["observed_at"])
    out["discharge"] = pd.to_numeric(out["discharge"], errors="coerce").astype("float64")
    for column in ("station_number", "unit", "quality_code", "data_type"):
        values = out[column].astype("object")
        out[column] = values.where(values.notna(), None)
    out = out[out["discharge"].notna()]
    out = out.drop_duplicates(subset=["station_number", "observed_at", "data_type"], keep="last")
    out = out.sort_values(["station_number", "observed_at"], kind="stable").reset_index(drop=True)
    return out.astype(OBSERVATION_DTYPES)


def _already_canonical(frame: pd.DataFrame) -> bool:
    """True for one station's series of one type that is exactly what ``canonical_observations`` returns."""
    import numpy as np

    if list(frame.columns) != OBSERVATION_COLUMNS or not isinstance(frame.index, pd.RangeIndex):
        return False
    if frame.index.start != 0 or frame.index.step != 1:
        return False
    if any(str(frame[c].dtype) != t for c, t in OBSERVATION_DTYPES.items()):
        return False
    station, kind = frame["station_number"].iat[0], frame["data_type"].iat[0]
    if station is None or kind is None or frame["discharge"].isna().any():
        return False
    if not ((frame["station_number"] == station).all() and (frame["data_type"] == kind).all()):
        return False
    for column in ("unit", "quality_code"):  # missing values are None, never NaN
        values = frame[column].to_numpy()
        if (pd.isna(values) & (values != None)).any():  # noqa: E711 (elementwise identity with None)
            return False
    instants = frame["observed_at"].array.asi8  # µs since the epoch (the dtype is checked above)
    return bool((np.diff(instants) > 0).all())


@dataclass(frozen=True)
class ForecastRunData:
    """One issued forecast for one station, values in ``unit`` (cfs for NOAA after conversion)."""

    station_number: str
    source: str  # forecast_runs.source, e.g. NOAA_RFC
    data_type: str
    run_date: datetime  # issue / reference time, UTC
    unit: str
    values: tuple[tuple[datetime, float], ...] = field(default_factory=tuple)
    member: str | None = None  # NWM ensemble member; None = deterministic / mean

    def __post_init__(self) -> None:
        if self.run_date.tzinfo is None:
            raise ConfigurationError(
                f"forecast run_date {self.run_date.isoformat()} must be timezone-aware",
                source=self.source or None,
                station_number=self.station_number,
            )

    def to_json(self) -> list[dict]:
        return [
            {"valid_time": iso_z(t), "value": v} for t, v in self.values
        ]
