"""Every rule about time windows, in one place: smart append (docs/adr/0001-smart-append.md),
chunking and the ECCC Datamart/Water Office seam.

* :func:`plan_window`: the window one station's pull covers (progress, params, overlap, clamps).
* :func:`chunk_window`: that window cut once into the chunks the hook fetches one by one (at most
  the hook's ``max_chunk``; ECCC real-time chunks never cross the Datamart seam).
* :func:`eccc_realtime_request`: which ECCC service serves one such chunk, and the exact request.

Pure functions: nothing here touches the database or the network (``tests/test_windows.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from streamflow.errors import ConfigurationError
from streamflow.timeutil import as_utc, floor_day, floor_second, iso_z
from streamflow.vocabulary import DataStrategy, DataType, Source

if TYPE_CHECKING:
    from streamflow.trigger_params import RunParams

# How far before the recorded progress an append run starts again, so provisional values the
# source revised since the last run are picked up (the upsert makes re-reading harmless).
OVERLAP: dict[DataType, timedelta] = {
    DataType.DAILY_MEAN: timedelta(days=7),
    DataType.REALTIME_15MIN: timedelta(hours=6),
}

ECCC = Source.ECCC.value
# The seam between the ECCC services: the Datamart "daily" file holds the last 30 complete days in
# local standard time. 00:00 UTC of (today UTC - 29 days) is at least 16 h inside that for every
# Canadian offset (UTC-03:30 .. UTC-08:00), even when the file is an hour stale.
DATAMART_DAYS = 29
# The Datamart "hourly" file (2 complete days + today) is used when the chunk starts within this.
DATAMART_HOURLY_MAX_AGE = timedelta(hours=36)
# Longest closed interval [start_date, end_date] of one Water Office real_time_data request. The
# service's limit depends on the number of values asked for ("if one station is requested, 18 months
# of data can be requested"); one station x one parameter x 90 days is ~26,000 5-minute values.
WATEROFFICE_REALTIME_MAX_SPAN = timedelta(days=90)
# real_time_data keeps about 18 months; older instantaneous values exist nowhere online (HYDAT has
# daily means only), so requests for them are not sent. A few weeks of margin on the 18 months.
WATEROFFICE_REALTIME_RETENTION = timedelta(days=570)
# Water Office daily_data has no documented limit; ~10 years (3,653 values) keeps answers and
# write transactions small.
WATEROFFICE_DAILY_MAX_SPAN = timedelta(days=3653)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ConfigurationError(f"window {name} {value.isoformat()} is naive; windows are UTC")

    def __str__(self) -> str:
        return f"{iso_z(self.start)} → {iso_z(self.end)}"


def plan_window(
    *,
    data_type: DataType,
    strategy: DataStrategy,
    pull_start_date: datetime,
    progress: datetime | None,
    params: RunParams,
    now: datetime,
    earliest: datetime | None = None,
) -> Window | None:
    """The window to pull for one station, or ``None`` when there is nothing to pull.

    Start: the ``start_date`` param; else for append the progress minus a small overlap; else
    ``pull_start_date``; overwrite and full refresh start at ``pull_start_date``. End: the
    ``end_date`` param, else now. The start is clamped to what the service can serve (``earliest``).
    """
    if params.start_date is not None:
        start, reason = params.start_date, "start_date param"
    elif params.full_refresh:
        start, reason = pull_start_date, "full refresh from pull_start_date"
    elif strategy == DataStrategy.OVERWRITE:
        start, reason = pull_start_date, "overwrite from pull_start_date"
    elif progress is not None:
        overlap = OVERLAP.get(data_type, timedelta(0))
        start = max(progress - overlap, pull_start_date)
        reason = f"append after progress {iso_z(progress)} (overlap {overlap})"
    else:
        start, reason = pull_start_date, "first run: history from pull_start_date"
    end = params.end_date or now
    if earliest is not None and start < earliest:
        reason += f"; clamped to the service's earliest {iso_z(earliest)}"
        start = earliest
    if start >= end:
        return None
    return Window(as_utc(start, "start"), as_utc(end, "end"), reason)


def split_window(window: Window, max_chunk: timedelta, *, seam: datetime | None = None) -> list[Window]:
    """Consecutive chunks of at most ``max_chunk``, oldest first, covering the window exactly.

    Consecutive chunks share their boundary instant. With a ``seam`` inside the window no chunk
    crosses it: the chunks before it end there and the next one starts there.
    """
    if max_chunk <= timedelta(0):
        raise ConfigurationError(f"max_chunk must be positive, got {max_chunk}")
    parts = [window]
    if seam is not None and window.start < seam < window.end:
        parts = [Window(window.start, seam, window.reason), Window(seam, window.end, window.reason)]
    chunks: list[Window] = []
    for part in parts:
        start = part.start
        while start < part.end:
            end = min(start + max_chunk, part.end)
            chunks.append(Window(start, end, window.reason))
            start = end
    return chunks


def seam_for(source: str, data_type: DataType, now: datetime) -> datetime | None:
    """The instant where the service behind ``source`` changes, if any (ECCC real-time: the Datamart seam)."""
    if source == ECCC and DataType(data_type) == DataType.REALTIME_15MIN:
        return datamart_seam(now)
    return None


def chunk_window(
    window: Window, *, source: str, data_type: DataType, max_chunk: timedelta, now: datetime
) -> list[Window]:
    """The pull's chunks: the one place a window is cut (by ``max_chunk`` and at the source's seam)."""
    return split_window(window, max_chunk, seam=seam_for(source, data_type, now))


# --------------------------------------------------------------------------------------------
# ECCC real-time: which service serves a chunk
# --------------------------------------------------------------------------------------------


def datamart_seam(now: datetime) -> datetime:
    """First instant served by the Datamart: 00:00 UTC of the UTC day 29 days before ``now``."""
    return floor_day(as_utc(now, "now", source=ECCC)) - timedelta(days=DATAMART_DAYS)


def eccc_realtime_earliest(now: datetime) -> datetime:
    """The oldest instant the Water Office real_time_data service still keeps (~18 months)."""
    return floor_day(as_utc(now, "now", source=ECCC) - WATEROFFICE_REALTIME_RETENTION)


@dataclass(frozen=True)
class RequestWindow:
    """The one ECCC request for a chunk: a closed interval ``[start, end]`` (UTC) and its service.

    Values are kept only when ``start <= observed_at <= end``.
    """

    service: str  # "wateroffice" | "datamart"
    start: datetime
    end: datetime
    frequency: str | None = None  # datamart file: "hourly" | "daily"


def eccc_realtime_request(
    start: datetime, end: datetime, *, now: datetime, station_number: str | None = None
) -> RequestWindow | None:
    """The service and interval that serve the chunk ``[start, end]``; ``None`` when no service keeps it.

    * From the seam (:func:`datamart_seam` of ``now``) on: the Datamart file, ``hourly`` when the
      chunk starts within :data:`DATAMART_HOURLY_MAX_AGE` of ``now``, else ``daily``.
    * Before it: Water Office real_time_data, clamped to :data:`WATEROFFICE_REALTIME_RETENTION`;
      a chunk ending at the seam ends one second before it, so each instant comes from one service.
      A chunk that crosses the seam (the UTC day turned between chunking and fetching) is served
      by the Water Office whole: it keeps the seam's days too.
    """
    start = as_utc(start, "start", source=ECCC, station_number=station_number)
    end = as_utc(end, "end", source=ECCC, station_number=station_number)
    now = as_utc(now, "now", source=ECCC, station_number=station_number)
    if start > end:
        raise ConfigurationError(
            f"start {start.isoformat()} is after end {end.isoformat()}", source=ECCC, station_number=station_number
        )
    seam = datamart_seam(now)
    if start >= seam:
        frequency = "hourly" if start >= now - DATAMART_HOURLY_MAX_AGE else "daily"
        return RequestWindow("datamart", start, end, frequency)
    first = max(start, eccc_realtime_earliest(now))
    last = min(end, seam - timedelta(seconds=1)) if end <= seam else end
    if floor_second(first) > floor_second(last):
        return None
    if floor_second(last) - floor_second(first) > WATEROFFICE_REALTIME_MAX_SPAN:
        raise ConfigurationError(
            f"real_time_data window {first.isoformat()} → {last.isoformat()} exceeds "
            f"{WATEROFFICE_REALTIME_MAX_SPAN}; chunk it with streamflow.windows.chunk_window",
            source=ECCC,
            station_number=station_number,
        )
    return RequestWindow("wateroffice", first, last)
