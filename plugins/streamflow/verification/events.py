"""Observation assets: what the pull tasks announce and the verification DAG listens to (ADR 0013).

One Airflow Asset per observation data type (``streamflow://observations/<data_type>``). A pull
task that has the asset in its ``outlets`` gets ``record_observation_event`` as its
``post_execute`` hook, which writes the station, the row counts, the window the pull covered and
the time range it changed into the asset event's ``extra``:

    {"data_type": "realtime_15min", "stations": ["01646500"], "rows_fetched": 96,
     "rows_written": 4, "start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z",
     "written_start": "2026-06-01T23:15:00Z", "written_end": "2026-06-02T00:00:00Z"}

``start``/``end`` is the window the pull covered (in append mode it begins an overlap before the
previous progress, so it holds rows that did not change). ``written_start``/``written_end`` is
the first and last instant of the rows it inserted or revised — widened to an overwrite's whole
range when the overwrite deleted rows — and ``null`` when nothing changed: only runs whose
horizons touch it can score differently. ``scopes_from_events`` folds the events a verification
run was triggered by into one time range per station; events recorded before the written range
existed (no ``written_start`` key) fall back to their window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Asset

from streamflow.vocabulary import OBSERVATION_TYPES

ASSET_URI = "streamflow://observations/{data_type}"
WINDOW_SEPARATOR = " → "  # how streamflow.windows.Window prints itself


def asset_for(data_type: str) -> Asset:
    """The Asset of one observation data type (``daily_mean`` or ``realtime_15min``)."""
    if data_type not in {t.value for t in OBSERVATION_TYPES}:
        raise ValueError(f"no observation asset for data type {data_type!r} (not an observation type)")
    return Asset(ASSET_URI.format(data_type=data_type), group="streamflow")


def observation_assets() -> list[Asset]:
    return [asset_for(t) for t in sorted(t.value for t in OBSERVATION_TYPES)]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def observation_event_extra(outcome: Mapping[str, Any] | None, data_type: str) -> dict[str, Any]:
    """The asset event extra of one station pull's outcome (``StationOutcome.to_dict()``)."""
    outcome = outcome or {}
    extra: dict[str, Any] = {
        "data_type": data_type,
        "stations": [outcome["station_number"]] if outcome.get("station_number") else [],
        "rows_fetched": int(outcome.get("rows_fetched") or 0),
        "rows_written": int(outcome.get("rows_written") or 0),
        "start": None,
        "end": None,
    }
    window = outcome.get("window")
    if isinstance(window, str) and WINDOW_SEPARATOR in window:
        start, end = (_parse(part.strip()) for part in window.split(WINDOW_SEPARATOR, 1))
        if start and end:
            extra["start"], extra["end"] = _iso(start), _iso(end)
    first, last = _parse(outcome.get("written_start")), _parse(outcome.get("written_end"))
    extra["written_start"], extra["written_end"] = (_iso(first), _iso(last)) if first and last else (None, None)
    return extra


def record_observation_event(context: Mapping[str, Any], result: Any = None) -> None:
    """``post_execute`` hook of an observation pull task: fill its asset event's extra."""
    task = context["task"]
    data_type = getattr(task, "data_type", None)
    if data_type not in {t.value for t in OBSERVATION_TYPES}:
        return
    extra = observation_event_extra(result if isinstance(result, Mapping) else None, data_type)
    context["outlet_events"][asset_for(data_type)].extra.update(extra)


def scopes_from_events(events: Iterable[Any]) -> dict[str, tuple[datetime, datetime]]:
    """Station → (start, end) covering what every event changed.

    ``events`` are asset events (objects with ``extra``) or their extras. An event's range is its
    written range (``written_start``/``written_end``); an event without those keys (recorded by
    older code) uses its window (``start``/``end``) if it wrote rows. Events that changed nothing
    (written range ``null``, or no rows written) or name no station are ignored.
    """
    scopes: dict[str, tuple[datetime, datetime]] = {}
    for event in events:
        extra = getattr(event, "extra", event) or {}
        if not isinstance(extra, Mapping):
            continue
        if "written_start" in extra:
            start, end = _parse(extra.get("written_start")), _parse(extra.get("written_end"))
        elif int(extra.get("rows_written") or 0) > 0:
            start, end = _parse(extra.get("start")), _parse(extra.get("end"))
        else:
            continue
        if start is None or end is None:
            continue
        for station in extra.get("stations") or ():
            if station in scopes:
                old_start, old_end = scopes[station]
                scopes[station] = (min(old_start, start), max(old_end, end))
            else:
                scopes[station] = (start, end)
    return scopes
