"""Pair each forecast value with the observation at its valid time (pure: numpy only).

The rule (ADR ``docs/adr/0013-forecast-verification.md``):

* A run's **step** Δ is the median spacing of its valid times (0 for a one-value run). Values
  valid before the issue time (negative lead) are not forecasts: they are dropped and counted.
* **Daily steps** (Δ ≥ 24 h) pair with ``daily_mean`` observations: the value valid at ``t`` is
  compared with the daily mean of the UTC calendar day holding the step's midpoint ``t − Δ/2``
  (a step ending at D+1 00:00 is day D).
* **Sub-daily steps** pair with instantaneous (``realtime_15min``) observations. The observations'
  native interval δ is the median spacing of the stored series. When Δ ≤ δ (the forecast is on
  the observation grid or finer) the value pairs with the observation at exactly ``t``, no
  interpolation. When Δ > δ (a coarser forecast) it pairs with the mean of the observations in
  the step ending at the valid time, ``(t − Δ, t]``, provided at least half of the step is
  observed (``count ≥ ceil(Δ / δ / 2)``).
* One unit: observations are converted to the forecast's unit exactly (1 ft³/s =
  0.028316846592 m³/s by definition; cms → cfs divides by that factor).
* A value without its observation (gap, missing, NaN, too little of its step observed) is
  dropped pairwise and counted (``dropped``).
* **Persistence** (the reference forecast of the skill score) is the last observation before
  the issue time: the latest instantaneous value at or before it, or the latest daily mean whose
  day has ended by then, looked for within ``PERSISTENCE_LOOKBACK``.
* A run is ``complete`` once the observations reach its horizon (the latest stored observation
  of the paired type is at or after the last valid time; for daily means: its day is the last
  value's day or later), ``partial`` before.

Times are int64 seconds since 1970-01-01 UTC throughout (fast, unambiguous).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta, timezone

import numpy as np

from streamflow.errors import StreamflowError
from streamflow.vocabulary import DataType, Unit

CMS_PER_CFS = 0.028316846592  # exact: 1 ft = 0.3048 m, so 1 ft³ = 0.3048³ m³
DAY = 86_400
PERSISTENCE_LOOKBACK = timedelta(days=3)
COMPLETE = "complete"
PARTIAL = "partial"


class VerificationError(StreamflowError, ValueError):
    """A forecast run or its observations cannot be verified (unknown unit, bad values)."""


def convert(values: np.ndarray, from_unit: str | None, to_unit: str | None, *, what: str = "values") -> np.ndarray:
    """``values`` from ``from_unit`` to ``to_unit`` (``cfs`` or ``cms``), exactly."""
    known = {Unit.CFS.value, Unit.CMS.value}
    for unit in (from_unit, to_unit):
        if unit not in known:
            raise VerificationError(f"{what}: unit {unit!r} is not one of cfs, cms; cannot convert")
    values = np.asarray(values, dtype=np.float64)
    if from_unit == to_unit:
        return values
    if from_unit == Unit.CFS.value:
        return values * CMS_PER_CFS
    return values / CMS_PER_CFS


def epoch_seconds(when: datetime) -> int:
    if when.tzinfo is None:
        raise VerificationError(f"naive datetime {when.isoformat()}: times must be timezone-aware UTC")
    return int(when.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc)


@dataclass(frozen=True)
class ForecastSeries:
    """One forecast run: valid times (epoch s) and values in ``unit``."""

    run_id: int
    run_date: int  # issue time, epoch s
    valid_times: np.ndarray  # int64, ascending
    values: np.ndarray  # float64
    unit: str | None

    @cached_property
    def step(self) -> int:
        if len(self.valid_times) < 2:
            return 0
        return int(np.median(np.diff(self.valid_times)))

    @property
    def observation_type(self) -> str:
        return DataType.DAILY_MEAN.value if self.step >= DAY else DataType.REALTIME_15MIN.value

    @property
    def footprint(self) -> tuple[int, int]:
        """(first, last) epoch s of the observations this run's verification reads."""
        lookback = int(PERSISTENCE_LOOKBACK.total_seconds())
        start = self.run_date - lookback
        if len(self.valid_times) == 0:
            return start, self.run_date
        first_step = int(self.valid_times[0]) - max(self.step, DAY if self.observation_type == "daily_mean" else 0)
        return min(start, first_step), int(self.valid_times[-1])


@dataclass(frozen=True)
class ObservationSeries:
    """A station's observations of one type: times (epoch s, ascending, unique), values, one unit."""

    data_type: str
    times: np.ndarray  # int64
    values: np.ndarray  # float64
    unit: str
    observed_through: int | None = None  # the latest observation stored for the station and type

    @classmethod
    def empty(cls, data_type: str, unit: str = Unit.CFS.value) -> ObservationSeries:
        return cls(data_type, np.empty(0, np.int64), np.empty(0, np.float64), unit, None)

    @cached_property
    def native_interval(self) -> int | None:
        if len(self.times) < 2:
            return None
        return int(np.median(np.diff(self.times)))

    def to_unit(self, unit: str | None, *, what: str) -> ObservationSeries:
        values = convert(self.values, self.unit, unit, what=what)
        return ObservationSeries(self.data_type, self.times, values, unit or self.unit, self.observed_through)


@dataclass(frozen=True)
class Pairs:
    """A run's forecast values with their observations (both in ``unit``), by lead time."""

    run_id: int
    lead_hours: np.ndarray  # float64, of every forecast value at or after the issue time
    forecast: np.ndarray  # float64
    observed: np.ndarray  # float64, NaN where unpaired
    unit: str | None
    observation_type: str
    persistence: float | None  # the last observation before the issue time, in ``unit``
    status: str  # complete | partial
    before_issue: int  # values valid before the issue time (dropped)

    @property
    def paired(self) -> np.ndarray:
        return np.isfinite(self.observed) & np.isfinite(self.forecast)

    @property
    def n_pairs(self) -> int:
        return int(self.paired.sum())

    @property
    def dropped(self) -> int:
        return int(len(self.forecast) - self.n_pairs + self.before_issue)


def _exact(times: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    out = np.full(len(wanted), np.nan)
    if len(times) == 0:
        return out
    idx = np.minimum(np.searchsorted(times, wanted), len(times) - 1)
    hit = times[idx] == wanted
    out[hit] = values[idx[hit]]
    return out


def _step_means(times: np.ndarray, values: np.ndarray, ends: np.ndarray, step: int, native: int) -> np.ndarray:
    """Mean of the observations in (end − step, end] for each end; NaN below half coverage."""
    out = np.full(len(ends), np.nan)
    if len(times) == 0 or len(ends) == 0:
        return out
    # Sum from the run's own first window on, so the result never depends on how much more of the
    # series the caller loaded (verifying again must give bit-identical scores).
    first = np.searchsorted(times, ends.min() - step, side="right")
    last = np.searchsorted(times, ends.max(), side="right")
    times, values = times[first:last], values[first:last]
    cumulative = np.concatenate(([0.0], np.cumsum(values)))
    lo = np.searchsorted(times, ends - step, side="right")
    hi = np.searchsorted(times, ends, side="right")
    count = hi - lo
    needed = max(1, int(np.ceil(step / native / 2)))
    ok = count >= needed
    out[ok] = (cumulative[hi[ok]] - cumulative[lo[ok]]) / count[ok]
    return out


def _persistence(obs: ObservationSeries, run_date: int) -> float | None:
    if len(obs.times) == 0:
        return None
    cutoff = run_date - (DAY if obs.data_type == DataType.DAILY_MEAN.value else 0)
    idx = int(np.searchsorted(obs.times, cutoff, side="right")) - 1
    if idx < 0 or obs.times[idx] < cutoff - PERSISTENCE_LOOKBACK.total_seconds():
        return None
    return float(obs.values[idx])


def pair_run(run: ForecastSeries, observations: ObservationSeries) -> Pairs:
    """Pair one run with the station's observations of ``run.observation_type`` (see the module doc).

    ``observations`` may be in either unit; NaN values count as missing. It must cover the run's
    ``footprint`` (more is fine).
    """
    if observations.data_type != run.observation_type:
        raise VerificationError(
            f"forecast run {run.run_id}: a step of {run.step} s pairs with {run.observation_type} "
            f"observations, got {observations.data_type}"
        )
    obs = observations.to_unit(run.unit, what=f"forecast run {run.run_id}")
    keep = np.isfinite(obs.values)
    times, values = obs.times[keep], obs.values[keep]
    valid = np.asarray(run.valid_times, dtype=np.int64)
    forecast = np.asarray(run.values, dtype=np.float64)
    ahead = valid >= run.run_date
    before_issue = int((~ahead).sum())
    valid, forecast = valid[ahead], forecast[ahead]
    step = run.step
    if run.observation_type == DataType.DAILY_MEAN.value:
        days = ((valid - step // 2) // DAY) * DAY
        observed = _exact(times, values, days)
        last_needed = int(days[-1]) if len(days) else None
    else:
        native = obs.native_interval
        if native is None or step <= native:
            observed = _exact(times, values, valid)
        else:
            observed = _step_means(times, values, valid, step, native)
        last_needed = int(valid[-1]) if len(valid) else None
    through = observations.observed_through
    if through is None and len(observations.times):
        through = int(observations.times[-1])
    complete = last_needed is not None and through is not None and through >= last_needed
    return Pairs(
        run_id=run.run_id,
        lead_hours=(valid - run.run_date) / 3600.0,
        forecast=forecast,
        observed=observed,
        unit=run.unit,
        observation_type=run.observation_type,
        persistence=_persistence(ObservationSeries(obs.data_type, times, values, obs.unit), run.run_date),
        status=COMPLETE if complete else PARTIAL,
        before_issue=before_issue,
    )
