"""Window rules (docs/adr/0001-smart-append.md) as pure functions: plan, chunk, the ECCC seam."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streamflow.trigger_params import RunParams
from streamflow.errors import ConfigurationError
from streamflow.windows import (
    OVERLAP,
    Window,
    chunk_window,
    datamart_seam,
    eccc_realtime_request,
    plan_window,
    split_window,
)
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


def test_no_chunk_crosses_a_seam():
    seam = START + timedelta(days=1500)
    chunks = split_window(Window(START, START + timedelta(days=2500)), timedelta(days=1000), seam=seam)
    assert [(c.start, c.end) for c in chunks] == [
        (START, START + timedelta(days=1000)),
        (START + timedelta(days=1000), seam),
        (seam, START + timedelta(days=2500)),
    ]
    outside = split_window(Window(START, START + timedelta(days=10)), timedelta(days=20), seam=START)
    assert len(outside) == 1


def test_only_eccc_realtime_chunks_split_at_the_datamart_seam():
    window = Window(NOW - timedelta(days=60), NOW)
    eccc = chunk_window(window, source="eccc", data_type=DataType.REALTIME_15MIN, max_chunk=timedelta(days=90), now=NOW)
    assert [c.end for c in eccc] == [datamart_seam(NOW), NOW]
    for source, kind in (("usgs", DataType.REALTIME_15MIN), ("eccc", DataType.DAILY_MEAN)):
        assert len(chunk_window(window, source=source, data_type=kind, max_chunk=timedelta(days=90), now=NOW)) == 1


def test_an_eccc_chunk_maps_to_exactly_one_request():
    seam = datamart_seam(NOW)
    before = eccc_realtime_request(seam - timedelta(days=10), seam, now=NOW)
    assert (before.service, before.end) == ("wateroffice", seam - timedelta(seconds=1))
    after = eccc_realtime_request(seam, NOW, now=NOW)
    assert (after.service, after.start, after.frequency) == ("datamart", seam, "daily")
    assert eccc_realtime_request(NOW - timedelta(days=2000), NOW - timedelta(days=1990), now=NOW) is None
    with pytest.raises(ConfigurationError, match="exceeds 90 days"):
        eccc_realtime_request(NOW - timedelta(days=400), NOW - timedelta(days=300), now=NOW)
    with pytest.raises(ConfigurationError, match="naive"):
        eccc_realtime_request(datetime(2026, 1, 1), NOW, now=NOW)
