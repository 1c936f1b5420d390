"""Verification scores of paired forecasts and observations (pure: numpy only).

Per run and per lead-time bin (``lead_bins``): the number of pairs, RMSE, mean error
(forecast − observed), MAE, Nash–Sutcliffe efficiency, Kling–Gupta efficiency (2009) and the RMSE
skill score against persistence, ``1 − RMSE / RMSE(persistence)``. A score the sample cannot
define is ``None``, never an error: no pairs → every score ``None``; one pair → RMSE, mean error
and MAE only; constant observations → NSE ``None`` (and KGE, whose correlation is undefined);
a persistence error of exactly 0 → skill ``None``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from streamflow.verification.pairing import Pairs

ALL = "all"  # the bin of the whole run
# (label, first hour, last hour): a value at lead ℓ falls in the bin with first < ℓ ≤ last (the
# first bin also takes ℓ = 0). After 72 h the bins are one day wide.
FIXED_BINS = ((0, 6), (6, 12), (12, 24), (24, 48), (48, 72))


def bin_label(first: int, last: int) -> str:
    return f"{first}-{last}h"


def lead_bins(max_lead_hours: float) -> list[tuple[str, int, int]]:
    """The bins needed to hold leads up to ``max_lead_hours``."""
    bins: list[tuple[str, int, int]] = []
    for first, last in FIXED_BINS:
        bins.append((bin_label(first, last), first, last))
        if max_lead_hours <= last:
            return bins
    first = 72
    while first < max_lead_hours:
        bins.append((bin_label(first, first + 24), first, first + 24))
        first += 24
    return bins


def bin_index(lead_hours: np.ndarray) -> np.ndarray:
    """The index in ``lead_bins(max)`` of each lead (leads must be ≥ 0)."""
    edges = np.array([last for _first, last in FIXED_BINS], dtype=np.float64)
    fixed = np.searchsorted(edges, lead_hours, side="left")  # first < ℓ ≤ last
    daily = len(FIXED_BINS) + np.ceil((lead_hours - 72.0) / 24.0).astype(np.int64) - 1
    return np.where(lead_hours <= 72.0, fixed, daily)


@dataclass(frozen=True)
class Scores:
    n_pairs: int
    rmse: float | None
    mean_error: float | None
    mae: float | None
    nse: float | None
    kge: float | None
    persistence_rmse: float | None
    skill: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _constant(values: np.ndarray) -> bool:
    """Exactly constant (max == min): a mean-based spread can be a rounding crumb instead of 0."""
    return bool(values.max() == values.min())


def _efficiencies(forecast: np.ndarray, observed: np.ndarray, sse: float) -> tuple[float | None, float | None]:
    """(NSE, KGE 2009) from the pairs and their sum of squared errors; None where undefined."""
    n = len(observed)
    if n < 2 or _constant(observed):
        return None, None
    mean_obs, mean_fc = float(observed.mean()), float(forecast.mean())
    d_obs, d_fc = observed - mean_obs, forecast - mean_fc
    ss_obs = float(d_obs @ d_obs)
    nse_value = _finite(1.0 - sse / ss_obs)
    if _constant(forecast) or mean_obs == 0.0:
        return nse_value, None
    ss_fc = float(d_fc @ d_fc)
    r = float(d_fc @ d_obs) / math.sqrt(ss_fc * ss_obs)
    alpha = math.sqrt(ss_fc / ss_obs)  # σf / σo
    beta = mean_fc / mean_obs
    return nse_value, _finite(1.0 - math.sqrt((r - 1.0) ** 2 + (alpha - 1.0) ** 2 + (beta - 1.0) ** 2))


def nse(forecast, observed) -> float | None:
    """Nash–Sutcliffe efficiency 1 − Σ(f − o)² / Σ(o − ō)²; None for n < 2 or constant observations."""
    forecast, observed = np.asarray(forecast, dtype=np.float64), np.asarray(observed, dtype=np.float64)
    error = forecast - observed
    return _efficiencies(forecast, observed, float(error @ error))[0]


def kge(forecast, observed) -> float | None:
    """Kling–Gupta efficiency (Gupta et al. 2009): 1 − √((r−1)² + (α−1)² + (β−1)²)."""
    forecast, observed = np.asarray(forecast, dtype=np.float64), np.asarray(observed, dtype=np.float64)
    error = forecast - observed
    return _efficiencies(forecast, observed, float(error @ error))[1]


def scores(forecast, observed, persistence: float | None = None) -> Scores:
    """Scores of the pairs where both values are finite (others are ignored here; pairing counts them)."""
    forecast = np.asarray(forecast, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    keep = np.isfinite(forecast) & np.isfinite(observed)
    if not keep.all():
        forecast, observed = forecast[keep], observed[keep]
    n = len(forecast)
    if n == 0:
        return Scores(0, None, None, None, None, None, None, None)
    error = forecast - observed
    sse = float(error @ error)
    rmse = math.sqrt(sse / n)
    persistence_rmse = skill = None
    if persistence is not None and math.isfinite(persistence):
        reference = persistence - observed
        persistence_rmse = math.sqrt(float(reference @ reference) / n)
        skill = 1.0 - rmse / persistence_rmse if persistence_rmse > 0.0 else None
    nse_value, kge_value = _efficiencies(forecast, observed, sse)
    return Scores(
        n_pairs=n,
        rmse=rmse,
        mean_error=float(error.sum()) / n,
        mae=float(np.abs(error).sum()) / n,
        nse=nse_value,
        kge=kge_value,
        persistence_rmse=persistence_rmse,
        skill=skill,
    )


@dataclass(frozen=True)
class BinScores:
    lead_bin: str  # e.g. "0-6h", or "all"
    lead_start_hours: int
    lead_end_hours: int
    pairs_dropped: int
    scores: Scores


def verify_pairs(pairs: Pairs) -> list[BinScores]:
    """One ``BinScores`` per lead bin holding forecast values, then the whole run (``all``)."""
    out: list[BinScores] = []
    paired = pairs.paired
    leads = pairs.lead_hours
    max_lead = float(leads.max()) if len(leads) else 0.0
    bins = lead_bins(max_lead)
    index = bin_index(leads) if len(leads) else np.empty(0, np.int64)
    for i, (label, first, last) in enumerate(bins):
        members = index == i
        if not members.any():
            continue
        sel = members & paired
        out.append(
            BinScores(
                label, first, last, int((members & ~paired).sum()),
                scores(pairs.forecast[sel], pairs.observed[sel], pairs.persistence),
            )
        )
    whole = scores(pairs.forecast[paired], pairs.observed[paired], pairs.persistence)
    out.append(BinScores(ALL, 0, bins[-1][2] if bins else 0, pairs.dropped, whole))
    return out
