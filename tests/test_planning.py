"""Smart append rules (DESIGN §6) as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streamflow.errors import ConfigurationError
from streamflow.planning import OVERLAP, RunParams, Window, parse_params, plan_window, select_stations, split_window
from streamflow.vocabulary import DataStrategy, DataType

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
START = datetime(2000, 1, 1, tzinfo=UTC)


def plan(**kw):
    args = dict(
        data_type=DataType.DAILY_MEAN, strategy=DataStrategy.APPEND, pull_start_date=START, progress=None,
        params=RunParams(), now=NOW,
    )
    args.update(kw)
    return plan_window(**args)


def test_first_run_pulls_the_whole_history():
    window = plan()
    assert (window.start, window.end) == (START, NOW)
    assert "first run" in window.reason


def test_append_resumes_at_progress_minus_overlap():
    progress = datetime(2026, 11, 20, tzinfo=UTC)
    window = plan(progress=progress)
    assert window.start == progress - OVERLAP[DataType.DAILY_MEAN]
    realtime = plan(progress=progress, data_type=DataType.REALTIME_15MIN)
    assert realtime.start == progress - timedelta(hours=6)


def test_overlap_never_reaches_before_pull_start():
    window = plan(progress=START + timedelta(days=1))
    assert window.start == START


def test_overwrite_and_full_refresh_start_at_pull_start_date():
    progress = datetime(2026, 11, 20, tzinfo=UTC)
    assert plan(progress=progress, strategy=DataStrategy.OVERWRITE).start == START
    assert plan(progress=progress, params=RunParams(full_refresh=True)).start == START


def test_params_start_and_end_win():
    s, e = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    window = plan(progress=datetime(2026, 1, 1, tzinfo=UTC), params=RunParams(start_date=s, end_date=e))
    assert (window.start, window.end) == (s, e)


def test_nothing_to_pull_and_clamp():
    assert plan(params=RunParams(start_date=NOW, end_date=NOW + timedelta(hours=1)), now=NOW + timedelta(hours=1)) is not None
    assert plan(params=RunParams(end_date=START)) is None
    earliest = NOW - timedelta(days=30)
    window = plan(earliest=earliest)
    assert window.start == earliest and "clamped" in window.reason


def test_split_window_covers_exactly_without_overlap():
    window = Window(START, START + timedelta(days=2500))
    chunks = split_window(window, timedelta(days=1000))
    assert [c.end - c.start for c in chunks] == [timedelta(days=1000), timedelta(days=1000), timedelta(days=500)]
    assert chunks[0].start == window.start and chunks[-1].end == window.end
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:]))
    assert split_window(Window(START, START + timedelta(hours=1)), timedelta(days=1)) == [Window(START, START + timedelta(hours=1))]


def test_naive_window_refused():
    with pytest.raises(ValueError, match="naive"):
        Window(datetime(2026, 1, 1), NOW)


def test_parse_params_accepts_the_documented_form():
    params = parse_params(
        {"stations": ["01646500"], "start_date": "2026-01-01T00:00:00Z", "end_date": None,
         "data_strategy": "overwrite", "full_refresh": False},
        now=NOW,
    )
    assert params == RunParams(("01646500",), datetime(2026, 1, 1, tzinfo=UTC), None, DataStrategy.OVERWRITE, False)
    assert parse_params({}, now=NOW) == RunParams()
    assert parse_params({"stations": "01646500, 02458502"}, now=NOW).stations == ("01646500", "02458502")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"start_date": "yesterday"}, "param start_date"),
        ({"start_date": "2026-01-01T00:00:00"}, "param start_date: .* no time zone"),
        ({"start_date": "2030-01-01T00:00:00Z"}, "param start_date: .* future"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "param end_date"),
        ({"data_strategy": "replace"}, "param data_strategy"),
        ({"full_refresh": "yes"}, "param full_refresh"),
        ({"stations": [1, 2]}, "param stations"),
        ({"statoins": []}, "unknown param"),
    ],
)
def test_parse_params_names_the_bad_param(raw, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_params(raw, now=NOW)


def test_select_stations_subset_and_unknown():
    assert select_stations(["a", "b", "c"], []) == ["a", "b", "c"]
    assert select_stations(["a", "b", "c"], ["c", "a"]) == ["a", "c"]
    with pytest.raises(ConfigurationError, match="param stations: zz not in this configuration"):
        select_stations(["a", "b"], ["zz"])
