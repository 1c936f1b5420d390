"""Smart append (DESIGN §6) as pure functions: windows and chunks from progress and params.

Nothing here touches the database or the network, so every rule is tested in isolation
(``tests/test_planning.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from streamflow.errors import ConfigurationError
from streamflow.vocabulary import DataStrategy, DataType

# How far before the recorded progress an append run starts again, so provisional values the
# source revised since the last run are picked up (the upsert makes re-reading harmless).
OVERLAP: dict[DataType, timedelta] = {
    DataType.DAILY_MEAN: timedelta(days=7),
    DataType.REALTIME_15MIN: timedelta(hours=6),
}

PARAM_NAMES = ("stations", "start_date", "end_date", "data_strategy", "full_refresh")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"window {name} {value.isoformat()} is naive; windows are UTC")

    def __str__(self) -> str:
        return f"{_iso(self.start)} → {_iso(self.end)}"


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class RunParams:
    """Validated manual-trigger params (DESIGN §5)."""

    stations: tuple[str, ...] = ()
    start_date: datetime | None = None
    end_date: datetime | None = None
    data_strategy: DataStrategy | None = None
    full_refresh: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "stations": list(self.stations),
            "start_date": _iso(self.start_date) if self.start_date else None,
            "end_date": _iso(self.end_date) if self.end_date else None,
            "data_strategy": self.data_strategy.value if self.data_strategy else None,
            "full_refresh": self.full_refresh,
        }


def _param_datetime(name: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"param {name}: {value!r} is not an ISO 8601 date-time (e.g. 2024-01-01T00:00:00Z)"
            ) from None
    else:
        raise ConfigurationError(f"param {name}: expected a date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        raise ConfigurationError(f"param {name}: {value!r} has no time zone; add Z for UTC")
    return parsed.astimezone(timezone.utc)


def parse_params(raw: Mapping[str, Any] | None, *, now: datetime | None = None) -> RunParams:
    """Validate trigger params; a bad one raises ``ConfigurationError`` naming it."""
    raw = dict(raw or {})
    stations_raw = raw.get("stations") or []
    if isinstance(stations_raw, str):
        stations_raw = [s for s in stations_raw.replace(",", " ").split() if s]
    if not isinstance(stations_raw, (list, tuple)) or not all(isinstance(s, str) for s in stations_raw):
        raise ConfigurationError(f"param stations: expected a list of station ids, got {stations_raw!r}")
    stations = tuple(dict.fromkeys(s.strip() for s in stations_raw if s.strip()))
    start = _param_datetime("start_date", raw.get("start_date"))
    end = _param_datetime("end_date", raw.get("end_date"))
    now = now or datetime.now(timezone.utc)
    if start is not None and start > now:
        raise ConfigurationError(f"param start_date: {_iso(start)} is in the future")
    if start is not None and end is not None and end <= start:
        raise ConfigurationError(f"param end_date: {_iso(end)} is not after start_date {_iso(start)}")
    strategy_raw = raw.get("data_strategy")
    strategy = None
    if strategy_raw not in (None, ""):
        try:
            strategy = DataStrategy(str(strategy_raw))
        except ValueError:
            raise ConfigurationError(
                f"param data_strategy: {strategy_raw!r} is not one of: append, overwrite"
            ) from None
    full_refresh = raw.get("full_refresh", False)
    if not isinstance(full_refresh, bool):
        raise ConfigurationError(f"param full_refresh: expected true or false, got {full_refresh!r}")
    unknown = sorted(set(raw) - set(PARAM_NAMES))
    if unknown:
        raise ConfigurationError(f"unknown param(s): {', '.join(unknown)} (known: {', '.join(PARAM_NAMES)})")
    return RunParams(stations, start, end, strategy, full_refresh)


def select_stations(configured: Sequence[str], requested: Sequence[str]) -> list[str]:
    """The run's stations: all configured ones, or the requested subset (unknown ids refused)."""
    if not requested:
        return list(configured)
    unknown = [s for s in requested if s not in set(configured)]
    if unknown:
        raise ConfigurationError(
            f"param stations: {', '.join(unknown)} not in this configuration "
            f"(configured: {', '.join(configured)})"
        )
    return [s for s in configured if s in set(requested)]


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
        reason = f"append after progress {_iso(progress)} (overlap {overlap})"
    else:
        start, reason = pull_start_date, "first run: history from pull_start_date"
    end = params.end_date or now
    if earliest is not None and start < earliest:
        reason += f"; clamped to the service's earliest {_iso(earliest)}"
        start = earliest
    if start >= end:
        return None
    return Window(start.astimezone(timezone.utc), end.astimezone(timezone.utc), reason)


def split_window(window: Window, max_chunk: timedelta) -> list[Window]:
    """Consecutive chunks of at most ``max_chunk``, oldest first, covering the window exactly."""
    if max_chunk <= timedelta(0):
        raise ValueError("max_chunk must be positive")
    chunks: list[Window] = []
    start = window.start
    while start < window.end:
        end = min(start + max_chunk, window.end)
        chunks.append(Window(start, end, window.reason))
        start = end
    return chunks
