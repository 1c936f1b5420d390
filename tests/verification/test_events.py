"""The observation asset event: what a pull's outcome puts into its extra, and how the verification
DAG folds the triggering events into one range per station (written range first, window for
events recorded before the written range existed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from streamflow.outcomes import StationOutcome
from streamflow.verification.events import observation_event_extra, scopes_from_events

UTC = timezone.utc
T = datetime(2026, 6, 1, tzinfo=UTC)
H = timedelta(hours=1)
WINDOW = "2026-05-31T18:00:00Z → 2026-06-02T00:00:00Z"


def _z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_outcome_accumulates_the_written_range_over_its_chunks():
    outcome = StationOutcome("01646500", "usgs", window=WINDOW, rows_fetched=120, rows_written=9)
    outcome.add_written(None, None)  # a chunk that changed nothing
    outcome.add_written(T + 2 * H, T + 5 * H)
    outcome.add_written(T - 3 * H, T - 3 * H)  # a revision in the overlap, folded in later
    outcome.add_written(T + 6 * H, T + 30 * H)
    assert (outcome.written_start, outcome.written_end) == (T - 3 * H, T + 30 * H)
    as_dict = outcome.to_dict()
    assert (as_dict["written_start"], as_dict["written_end"]) == ("2026-05-31T21:00:00Z", "2026-06-02T06:00:00Z")
    assert StationOutcome("01646500", "usgs").to_dict()["written_start"] is None


def test_event_extra_from_an_outcome():
    outcome = StationOutcome("01646500", "usgs", window=WINDOW, rows_fetched=120, rows_written=9)
    outcome.add_written(T + 15 * timedelta(minutes=1), T + 2 * H)
    assert observation_event_extra(outcome.to_dict(), "realtime_15min") == {
        "data_type": "realtime_15min", "stations": ["01646500"], "rows_fetched": 120, "rows_written": 9,
        "start": "2026-05-31T18:00:00Z", "end": "2026-06-02T00:00:00Z",
        "written_start": "2026-06-01T00:15:00Z", "written_end": "2026-06-01T02:00:00Z",
    }
    # nothing changed: the keys are there (so the event is not taken for an older one), null
    quiet = observation_event_extra(StationOutcome("01646500", "usgs", window=WINDOW, rows_fetched=120).to_dict(), "realtime_15min")
    assert (quiet["rows_written"], quiet["written_start"], quiet["written_end"]) == (0, None, None)
    assert scopes_from_events([quiet]) == {}
    # no outcome at all (the task failed before returning one)
    assert observation_event_extra(None, "daily_mean") == {
        "data_type": "daily_mean", "stations": [], "rows_fetched": 0, "rows_written": 0, "start": None, "end": None,
        "written_start": None, "written_end": None,
    }


def _event(station: str, rows_written: int, written: tuple[datetime, datetime] | None, window=(T - 6 * H, T + 24 * H)):
    extra = {"data_type": "realtime_15min", "stations": [station], "rows_fetched": 100, "rows_written": rows_written,
             "start": _z(window[0]), "end": _z(window[1])}
    extra["written_start"], extra["written_end"] = (_z(written[0]), _z(written[1])) if written else (None, None)
    return extra


def test_events_fold_into_one_written_range_per_station():
    class Event:  # an AssetEvent as the operator sees it
        def __init__(self, extra):
            self.extra = extra

    events = [
        Event(_event("A", 4, (T + 2 * H, T + 3 * H))),
        Event(_event("A", 1, (T - 1 * H, T - 1 * H))),  # a revision in an earlier run's overlap
        Event(_event("A", 2, (T + 5 * H, T + 8 * H))),
        Event(_event("B", 3, (T + 10 * H, T + 11 * H))),
        Event(_event("C", 0, None)),  # nothing changed: not verified
        # an overwrite that deleted rows and wrote none: its replaced range counts
        Event(_event("D", 0, (T, T + 12 * H))),
    ]
    assert scopes_from_events(events) == {
        "A": (T - 1 * H, T + 8 * H),
        "B": (T + 10 * H, T + 11 * H),
        "D": (T, T + 12 * H),
    }


def test_events_without_a_written_range_fall_back_to_their_window():
    older = {k: v for k, v in _event("A", 5, None).items() if not k.startswith("written_")}
    older_quiet = {k: v for k, v in _event("B", 0, None).items() if not k.startswith("written_")}
    assert scopes_from_events([older, older_quiet]) == {"A": (T - 6 * H, T + 24 * H)}
    # an older event and a newer one for the same station: the window and the written range fold
    newer = _event("A", 2, (T + 30 * H, T + 31 * H))
    assert scopes_from_events([older, newer]) == {"A": (T - 6 * H, T + 31 * H)}
