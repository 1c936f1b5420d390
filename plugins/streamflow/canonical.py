"""The canonical shapes every hook returns (STYLE: one vocabulary, one canonical frame).

Observations: a pandas DataFrame with exactly ``OBSERVATION_COLUMNS`` and ``OBSERVATION_DTYPES``;
``observed_at`` is UTC-aware; an empty result keeps the dtypes. Forecasts: ``ForecastRunData``.

Only finite discharge values pass: a value a service sent that is NaN, ±inf or overflows a float
(``Infinity``, ``1e400``) is dropped and counted, never stored (negative values stay: tidal gauges
report them). The count travels with the frame (:func:`values_dropped`) and with the forecast run
(``ForecastRunData.values_dropped``), and ends in the station's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import math
import re

import numpy as np
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


_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: str | None) -> str | None:
    """``value`` without NUL, other control characters and lone surrogates (neither PostgreSQL nor
    UTF-8 can store them): a service's odd qualifier is cleaned, not a write that fails on every retry."""
    if value is None:
        return None
    cleaned = _UNSTORABLE.sub("", value)
    return cleaned if cleaned.strip() else None


#: ``DataFrame.attrs`` key of the number of non-finite discharge values dropped from a frame.
VALUES_DROPPED = "values_dropped"


def empty_observations(values_dropped: int = 0) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in OBSERVATION_DTYPES.items()})
    frame.attrs[VALUES_DROPPED] = int(values_dropped)
    return frame


def values_dropped(frame: pd.DataFrame) -> int:
    """How many non-finite discharge values were dropped on the way to ``frame`` (0 when unknown)."""
    return int(frame.attrs.get(VALUES_DROPPED, 0) or 0)


def canonical_observations(frame: pd.DataFrame, *, dropped: int | None = None) -> pd.DataFrame:
    """Coerce ``frame`` to the canonical columns and dtypes, sorted, one row per instant.

    Rows without a discharge value are dropped (a missing value is not a measurement). Rows whose
    value is present but not a finite number (NaN, ±inf, an overflow such as ``1e400``) are dropped
    too and counted: the result's :func:`values_dropped` is ``dropped`` (default: the count
    ``frame`` already carries) plus those rows. When a station reports the same instant twice the
    last row wins.
    """
    missing = [c for c in OBSERVATION_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"observation frame lacks columns {missing}")
    carried = values_dropped(frame) if dropped is None else int(dropped)
    if frame.empty:
        return empty_observations(carried)
    if _already_canonical(frame):  # a hook's chunk handed on to the repository: nothing to redo
        out = frame.copy(deep=False)
        out.attrs[VALUES_DROPPED] = carried
        return out
    out = frame[OBSERVATION_COLUMNS].copy()
    observed = pd.to_datetime(out["observed_at"], utc=True)
    out["observed_at"] = observed.astype(OBSERVATION_DTYPES["observed_at"])
    raw = out["discharge"]
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    finite = np.isfinite(numbers.to_numpy())
    carried += int((~finite & _present(raw)).sum())
    out["discharge"] = numbers
    for column in ("station_number", "unit", "quality_code", "data_type"):
        values = out[column].astype("object")
        if column == "quality_code":  # free text from the service
            cleaned = [clean_text(v) if isinstance(v, str) else v for v in values.tolist()]
            values = pd.Series(cleaned, index=values.index, dtype="object")
        out[column] = values.where(values.notna(), None)
    out = out[finite]
    out = out.drop_duplicates(subset=["station_number", "observed_at", "data_type"], keep="last")
    out = out.sort_values(["station_number", "observed_at"], kind="stable").reset_index(drop=True)
    out = out.astype(OBSERVATION_DTYPES)
    out.attrs[VALUES_DROPPED] = carried
    return out


def _present(raw: pd.Series) -> np.ndarray:
    """True where the service sent a value at all (not null, not an empty string, not a float NaN)."""
    def sent(value) -> bool:
        if value is None:
            return False
        if isinstance(value, float):
            return not math.isnan(value)
        if isinstance(value, str):
            return bool(value.strip())
        return True

    if raw.dtype.kind == "f":
        return np.isinf(raw.to_numpy())
    return np.fromiter((sent(v) for v in raw.tolist()), dtype=bool, count=len(raw))


def _already_canonical(frame: pd.DataFrame) -> bool:
    """True for one station's series of one type that is exactly what ``canonical_observations`` returns."""
    if list(frame.columns) != OBSERVATION_COLUMNS or not isinstance(frame.index, pd.RangeIndex):
        return False
    if frame.index.start != 0 or frame.index.step != 1:
        return False
    if any(str(frame[c].dtype) != t for c, t in OBSERVATION_DTYPES.items()):
        return False
    station, kind = frame["station_number"].iat[0], frame["data_type"].iat[0]
    if station is None or kind is None or not np.isfinite(frame["discharge"].to_numpy()).all():
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
    values_dropped: int = 0  # non-finite values the service sent that were left out

    def __post_init__(self) -> None:
        if self.run_date.tzinfo is None:
            raise ConfigurationError(
                f"forecast run_date {self.run_date.isoformat()} must be timezone-aware",
                source=self.source or None,
                station_number=self.station_number,
            )
        finite = tuple((t, v) for t, v in self.values if v is not None and math.isfinite(v))
        if len(finite) != len(self.values):  # NaN/±inf never reach the database (JSON cannot hold them)
            object.__setattr__(self, "values_dropped", self.values_dropped + len(self.values) - len(finite))
            object.__setattr__(self, "values", finite)

    def to_json(self) -> list[dict]:
        return [
            {"valid_time": iso_z(t), "value": v} for t, v in self.values
        ]
