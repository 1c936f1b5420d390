"""Pairing forecasts with observations: the rule of ADR 0013, unit conversion, completeness."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from streamflow.verification.pairing import (
    CMS_PER_CFS,
    COMPLETE,
    PARTIAL,
    ForecastSeries,
    ObservationSeries,
    VerificationError,
    convert,
    epoch_seconds,
    pair_run,
)
from streamflow.vocabulary import CFS_PER_CMS

H = 3600
T0 = epoch_seconds(datetime(2026, 6, 1, tzinfo=timezone.utc))


def forecast(valid_hours, values, unit="cfs", issued=T0):
    return ForecastSeries(7, issued, np.array([T0 + h * H for h in valid_hours], dtype=np.int64),
                          np.array(values, dtype=np.float64), unit)


def observations(times, values, unit="cfs", data_type="realtime_15min", through=None):
    return ObservationSeries(data_type, np.array(times, dtype=np.int64), np.array(values, dtype=np.float64), unit, through)


def test_unit_factor_is_exact_and_agrees_with_the_vocabulary():
    from fractions import Fraction

    assert Fraction(CMS_PER_CFS) == Fraction(0.028316846592)  # the float nearest 0.3048³ exactly
    assert Fraction("0.3048") ** 3 == Fraction("0.028316846592")
    assert CFS_PER_CMS == pytest.approx(1 / CMS_PER_CFS, rel=1e-15)
    assert convert(np.array([1.0]), "cms", "cfs")[0] == pytest.approx(35.31466672148859, rel=1e-15)
    assert convert(np.array([100.0]), "cfs", "cms")[0] == pytest.approx(2.8316846592, rel=1e-15)


def test_unknown_unit_is_refused_with_a_message():
    with pytest.raises(VerificationError, match="forecast run 7: unit 'kcfs'"):
        pair_run(forecast([1], [1.0], unit="kcfs"), observations([T0 + H], [1.0]))


def test_on_the_observation_grid_values_pair_exactly():
    # hourly forecast, hourly observations: the value at 02:00 has no observation (a gap)
    obs = observations([T0 - H, T0, T0 + H, T0 + 3 * H], [9.0, 10.0, 11.0, 13.0])
    pairs = pair_run(forecast([1, 2, 3], [12.0, 12.0, 12.0]), obs)
    assert pairs.lead_hours.tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(pairs.observed[1])
    assert pairs.observed[[0, 2]].tolist() == [11.0, 13.0]
    assert pairs.n_pairs == 2 and pairs.dropped == 1
    assert pairs.persistence == 10.0  # the observation at the issue time
    assert pairs.status == COMPLETE


def test_coarser_forecast_steps_average_the_step_ending_at_the_valid_time():
    # 15-minute observations; a 6-hourly forecast valid at 06:00 and 12:00
    times = [T0 + m * 900 for m in range(49)]  # 00:00 … 12:00
    values = [float(m) for m in range(49)]
    pairs = pair_run(forecast([6, 12], [0.0, 0.0]), observations(times, values))
    # (00:00, 06:00] holds m = 1 … 24 → mean 12.5; (06:00, 12:00] holds m = 25 … 48 → mean 36.5
    assert pairs.observed.tolist() == [12.5, 36.5]


def test_a_step_less_than_half_observed_is_dropped():
    times = [T0 + m * 900 for m in range(25)] + [T0 + 12 * H]  # second step: 1 of 24 observed
    pairs = pair_run(forecast([6, 12], [0.0, 0.0]), observations(times, [1.0] * 26))
    assert pairs.observed[0] == 1.0 and np.isnan(pairs.observed[1])
    assert pairs.dropped == 1


def test_daily_steps_pair_with_the_daily_mean_of_the_step():
    day = 86_400
    obs = observations([T0 - day, T0, T0 + day], [5.0, 6.0, 7.0], data_type="daily_mean")
    run = forecast([24, 48], [6.5, 6.0])  # steps ending 06-02 00:00 (day 06-01) and 06-03 00:00 (06-02)
    assert run.observation_type == "daily_mean"
    pairs = pair_run(run, obs)
    assert pairs.observed.tolist() == [6.0, 7.0]
    assert pairs.persistence == 5.0  # the daily mean of the last day ended by the issue time
    assert pairs.status == COMPLETE


def test_observations_are_converted_to_the_forecast_unit():
    obs = observations([T0, T0 + H], [1.0, 2.0], unit="cms")
    pairs = pair_run(forecast([1], [70.0]), obs)
    assert pairs.observed[0] == pytest.approx(2.0 / 0.028316846592, rel=1e-15)
    assert pairs.persistence == pytest.approx(1.0 / 0.028316846592, rel=1e-15)


def test_nan_observations_count_as_missing():
    obs = observations([T0, T0 + H, T0 + 2 * H], [1.0, np.nan, 3.0])
    pairs = pair_run(forecast([1, 2], [1.0, 1.0]), obs)
    assert pairs.n_pairs == 1 and pairs.dropped == 1


def test_partial_until_observations_reach_the_horizon():
    obs = observations([T0, T0 + H], [1.0, 2.0])
    assert pair_run(forecast([1, 2], [1.0, 1.0]), obs).status == PARTIAL
    later = observations([T0, T0 + H], [1.0, 2.0], through=T0 + 2 * H)
    assert pair_run(forecast([1, 2], [1.0, 1.0]), later).status == COMPLETE


def test_values_before_the_issue_time_are_dropped_and_counted():
    obs = observations([T0 - H, T0, T0 + H], [1.0, 2.0, 3.0])
    pairs = pair_run(forecast([-1, 0, 1], [1.0, 2.0, 3.0]), obs)
    assert pairs.lead_hours.tolist() == [0.0, 1.0]
    assert pairs.before_issue == 1 and pairs.dropped == 1


def test_no_observations_at_all():
    pairs = pair_run(forecast([1, 2], [1.0, 1.0]), ObservationSeries.empty("realtime_15min"))
    assert pairs.n_pairs == 0 and pairs.dropped == 2 and pairs.persistence is None and pairs.status == PARTIAL


def test_persistence_older_than_the_look_back_is_not_used():
    obs = observations([T0 - 4 * 86_400, T0 + H], [1.0, 2.0])
    assert pair_run(forecast([1], [1.0]), obs).persistence is None


def test_wrong_observation_type_is_refused():
    with pytest.raises(VerificationError, match="pairs with realtime_15min"):
        pair_run(forecast([1], [1.0]), observations([T0], [1.0], data_type="daily_mean"))


def test_scores_do_not_depend_on_how_much_of_the_series_was_loaded():
    rng = np.random.default_rng(3)
    times = np.arange(T0 - 400 * H, T0 + 400 * H, 900, dtype=np.int64)
    values = rng.gamma(2.0, 300.0, len(times))
    run = forecast(range(1, 73), rng.gamma(2.0, 300.0, 72))
    narrow = (times >= T0 - 80 * H) & (times <= T0 + 72 * H)
    whole = pair_run(run, observations(times, values))
    part = pair_run(run, observations(times[narrow], values[narrow], through=int(times[-1])))
    assert whole.observed.tobytes() == part.observed.tobytes()  # bit-identical: re-verifying changes nothing
