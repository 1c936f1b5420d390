"""canonical_observations: the shape every hook returns and the repository writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pandas.testing as pdt

from streamflow.canonical import OBSERVATION_DTYPES, canonical_observations


def _raw(times, values, quality, station="01646500", kind="realtime_15min"):
    return pd.DataFrame(
        {
            "station_number": station, "observed_at": times, "discharge": values, "unit": "cfs",
            "quality_code": quality, "data_type": kind,
        }
    )


def test_raw_frame_is_sorted_deduplicated_typed():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    raw = _raw([t0 + timedelta(minutes=30), t0, t0 + timedelta(minutes=30), t0 + timedelta(minutes=15)],
               ["3.5", 1.0, 4.0, np.nan], ["P", np.nan, "A", "P"])
    out = canonical_observations(raw)
    assert {c: str(t) for c, t in out.dtypes.items()} == OBSERVATION_DTYPES
    assert out["observed_at"].tolist() == [t0, t0 + timedelta(minutes=30)]  # NaN value dropped
    assert out["discharge"].tolist() == [1.0, 4.0]  # the later duplicate wins
    assert out["quality_code"].tolist() == [None, "A"]  # NaN → None


def test_canonical_frame_passes_through_unchanged_and_near_misses_do_not():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(minutes=15 * i) for i in range(4)]
    once = canonical_observations(_raw(times, [1.0, 2.0, 3.0, 4.0], ["P", None, "A", "P"]))
    again = canonical_observations(once)
    assert again is not once
    pdt.assert_frame_equal(again, once)

    # Looks canonical but is not: each must go through the full path and come out canonical.
    nan_quality = once.copy()
    nan_quality["quality_code"] = pd.Series(["P", np.nan, "A", "P"], dtype="object")
    assert canonical_observations(nan_quality)["quality_code"].tolist() == ["P", None, "A", "P"]
    unsorted = once.iloc[[1, 0, 2, 3]].reset_index(drop=True)
    pdt.assert_frame_equal(canonical_observations(unsorted), once)
    repeated = pd.concat([once, once.iloc[[3]]], ignore_index=True)
    pdt.assert_frame_equal(canonical_observations(repeated), once)
    two_types = once.copy()
    two_types.loc[3, "data_type"] = "daily_mean"
    assert canonical_observations(two_types)["data_type"].tolist() == ["realtime_15min"] * 3 + ["daily_mean"]
