"""Verification scores: hand-computed expectations, HydroErr as an independent oracle, edge cases."""

from __future__ import annotations

import math

import HydroErr as he
import numpy as np
import pytest

from streamflow.verification.metrics import ALL, bin_index, lead_bins, scores, verify_pairs
from streamflow.verification.pairing import COMPLETE, Pairs

FORECAST = [2.0, 4.0, 6.0, 8.0]
OBSERVED = [1.0, 3.0, 7.0, 9.0]


def test_hand_computed_scores():
    # errors 1, 1, -1, -1; observed mean 5, Σ(o − ō)² = 16 + 4 + 4 + 16 = 40, SSE = 4
    s = scores(FORECAST, OBSERVED, persistence=4.0)
    assert s.n_pairs == 4
    assert s.rmse == pytest.approx(1.0)
    assert s.mean_error == pytest.approx(0.0)
    assert s.mae == pytest.approx(1.0)
    assert s.nse == pytest.approx(1 - 4 / 40)
    # r = cov / (σf σo) = 7 / √(5 · 10); α = √5 / √10; β = 5 / 5
    assert s.kge == pytest.approx(1 - math.sqrt((7 / math.sqrt(50) - 1) ** 2 + (math.sqrt(0.5) - 1) ** 2))
    assert s.kge == pytest.approx(0.70693439, abs=1e-8)
    # persistence 4: errors 3, 1, −3, −5 → RMSE √11
    assert s.persistence_rmse == pytest.approx(math.sqrt(11))
    assert s.skill == pytest.approx(1 - 1 / math.sqrt(11))


def test_bias_sign_is_forecast_minus_observed():
    assert scores([3.0, 5.0], [1.0, 2.0]).mean_error == pytest.approx(2.5)
    assert scores([1.0, 2.0], [3.0, 5.0]).mean_error == pytest.approx(-2.5)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_same_numbers_as_hydroerr_on_random_series(seed):
    rng = np.random.default_rng(seed)
    observed = rng.gamma(2.0, 300.0, size=200)
    forecast = observed * rng.normal(1.05, 0.2, size=200) + rng.normal(0, 30, size=200)
    s = scores(forecast, observed, persistence=float(observed[0]))
    assert s.rmse == pytest.approx(he.rmse(forecast, observed), rel=1e-12)
    assert s.mean_error == pytest.approx(he.me(forecast, observed), rel=1e-12)
    assert s.mae == pytest.approx(he.mae(forecast, observed), rel=1e-12)
    assert s.nse == pytest.approx(he.nse(forecast, observed), rel=1e-12)
    assert s.kge == pytest.approx(he.kge_2009(forecast, observed), rel=1e-12)
    reference = np.full_like(observed, observed[0])
    assert s.persistence_rmse == pytest.approx(he.rmse(reference, observed), rel=1e-12)
    assert s.skill == pytest.approx(1 - he.rmse(forecast, observed) / he.rmse(reference, observed), rel=1e-12)


def test_no_pairs_gives_nulls():
    s = scores([], [], persistence=3.0)
    assert s.n_pairs == 0
    assert all(getattr(s, k) is None for k in ("rmse", "mean_error", "mae", "nse", "kge", "persistence_rmse", "skill"))


def test_one_pair_defines_only_the_error_scores():
    s = scores([5.0], [3.0], persistence=4.0)
    assert (s.n_pairs, s.rmse, s.mean_error, s.mae) == (1, 2.0, 2.0, 2.0)
    assert s.nse is None and s.kge is None
    assert s.persistence_rmse == 1.0 and s.skill == pytest.approx(-1.0)


def test_constant_observations_make_nse_and_kge_null_not_an_error():
    s = scores([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], persistence=2.0)
    assert s.nse is None and s.kge is None
    assert s.rmse == pytest.approx(math.sqrt(2 / 3))
    assert s.persistence_rmse == 0.0 and s.skill is None  # a perfect reference: skill undefined


def test_nan_and_missing_values_are_left_out_pairwise():
    s = scores([2.0, np.nan, 6.0, 8.0, 4.0], [1.0, 3.0, 7.0, 9.0, np.nan])
    reference = scores([2.0, 6.0, 8.0], [1.0, 7.0, 9.0])
    assert s == reference
    assert s.n_pairs == 3


def test_lead_bins_fixed_then_daily():
    assert [b[0] for b in lead_bins(18)] == ["0-6h", "6-12h", "12-24h"]
    long = lead_bins(30 * 24)
    assert [b[0] for b in long[:7]] == ["0-6h", "6-12h", "12-24h", "24-48h", "48-72h", "72-96h", "96-120h"]
    assert long[-1] == ("696-720h", 696, 720)
    leads = np.array([0, 6, 6.5, 12, 24, 48, 72, 72.5, 96, 96.5, 720])
    assert bin_index(leads).tolist() == [0, 0, 1, 1, 2, 3, 4, 5, 5, 6, 31]


def test_verify_pairs_per_bin_and_whole_run():
    leads = np.array([1.0, 6.0, 7.0, 12.0, 13.0])
    pairs = Pairs(
        run_id=1, lead_hours=leads, forecast=np.array([2.0, 4.0, 6.0, 8.0, 10.0]),
        observed=np.array([1.0, 3.0, 7.0, np.nan, 10.0]), unit="cfs", observation_type="realtime_15min",
        persistence=4.0, status=COMPLETE, before_issue=1,
    )
    bins = {b.lead_bin: b for b in verify_pairs(pairs)}
    assert list(bins) == ["0-6h", "6-12h", "12-24h", ALL]
    assert bins["0-6h"].scores.n_pairs == 2 and bins["0-6h"].scores.rmse == pytest.approx(1.0)
    assert bins["6-12h"].scores.n_pairs == 1 and bins["6-12h"].pairs_dropped == 1
    assert bins["6-12h"].scores.mean_error == pytest.approx(-1.0)
    assert bins["12-24h"].scores.rmse == 0.0
    assert bins[ALL].scores.n_pairs == 4
    assert bins[ALL].pairs_dropped == 2  # one unpaired value + one valid before the issue time
    assert bins[ALL].scores.rmse == pytest.approx(math.sqrt(3 / 4))
