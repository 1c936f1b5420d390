"""What a run did: one :class:`StationOutcome` per station (pushed by each pull task as XCom
``outcome``), folded by ``finalize`` into the run's ``data_pull_logs`` row (:func:`summarize`).
See docs/adr/0004-dag-shape-and-outcomes.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from streamflow.timeutil import iso_z


@dataclass
class StationOutcome:
    """What happened to one station in one run; recorded in ``data_pull_logs.details``."""

    station_number: str
    source: str
    status: str = "success"  # success | nothing | skipped | failed
    window: str | None = None
    chunks_total: int = 0
    chunks_done: int = 0
    rows_fetched: int = 0
    rows_written: int = 0
    values_dropped: int = 0  # non-finite values (NaN, ±inf, overflow) the service sent, dropped unstored
    progress: str | None = None
    message: str | None = None
    retryable: bool | None = None
    # What the run changed in the database, over all chunks: first and last observed_at of the
    # rows written (an overwrite that deleted rows: its whole range); None when nothing changed.
    written_start: datetime | None = None
    written_end: datetime | None = None

    def add_written(self, first: datetime | None, last: datetime | None) -> None:
        """Widen the written range by one chunk's (``None``: the chunk changed nothing)."""
        if first is not None:
            self.written_start = first if self.written_start is None else min(self.written_start, first)
        if last is not None:
            self.written_end = last if self.written_end is None else max(self.written_end, last)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom, ``data_pull_logs.details``): the written range as ``…Z`` strings."""
        out = asdict(self)
        out["written_start"], out["written_end"] = iso_z(self.written_start), iso_z(self.written_end)
        return out


#: How a run whose every station was skipped (e.g. forecast stations without a NOAA mapping) is
#: told apart in ``data_pull_logs.error_message``; its status is ``failed``.
ALL_SKIPPED = "every station was skipped, nothing was pulled"


@dataclass
class RunSummary:
    status: str
    records_processed: int
    stations_failed: list[str] = field(default_factory=list)
    error_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def summarize(outcomes: list[dict[str, Any]], expected: list[str]) -> RunSummary:
    """Fold per-station outcomes into the run's log row; a station with no outcome failed."""
    by_station = {o["station_number"]: o for o in outcomes if o}
    details: dict[str, Any] = {}
    failed: list[str] = []
    for number in expected:
        outcome = by_station.get(number)
        if outcome is None:
            outcome = StationOutcome(number, "?", status="failed", message="the station's task ended without an outcome (killed, timed out or not run)").to_dict()
        details[number] = outcome
        if outcome["status"] == "failed":
            failed.append(number)
    records = sum(int(o.get("rows_written") or 0) for o in details.values())
    error = None
    if failed:
        error = f"{len(failed)} of {len(expected)} station(s) failed: " + "; ".join(
            f"{n}: {details[n].get('message')}" for n in failed
        )
    elif expected and all(details[n].get("status") == "skipped" for n in expected):
        # Nothing can ever be pulled until the configuration or its mappings change: a failed run,
        # told apart from station failures by its message (no new status for readers to learn).
        error = f"{ALL_SKIPPED}: {len(expected)} of {len(expected)} station(s) skipped: " + "; ".join(
            f"{n}: {details[n].get('message')}" for n in expected[:20]
        ) + (f"; … ({len(expected) - 20} more)" if len(expected) > 20 else "")
        return RunSummary("failed", records, failed, error, details)
    return RunSummary("failed" if failed else "success", records, failed, error, details)
