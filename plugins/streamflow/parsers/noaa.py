"""NOAA NWPS JSON → our shapes (pure: documents in, ``ForecastRunData`` and dicts out; no HTTP).

NWPS spellings (``lid``, ``usgsId``, ``issuedTime``, ``secondary``, ``validTime``, ...), its
"no value" sentinels and its flow units stay here. A document that cannot be read raises
:class:`~streamflow.errors.PayloadError` without source or station; the hook adds them and the URL.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from streamflow.canonical import ForecastRunData, clean_text
from streamflow.errors import PayloadError
from streamflow.vocabulary import FORECAST_SOURCE, DataType, Unit

# NWPS writes "no value" as these numbers (status/series: -999, thresholds: -9999) ...
MISSING_NUMBERS = frozenset({-999.0, -9999.0})
# ... and "no time" as the zero date of its Go backend.
MISSING_TIME = "0001-01-01T00:00:00Z"

# Flow units NWPS uses, as the factor that turns a value into cfs. Anything else is refused:
# guessing a unit is how a 1000x error gets into the database.
RFC_FLOW_UNITS: dict[str, Decimal] = {"kcfs": Decimal(1000), "cfs": Decimal(1)}
NWM_FLOW_UNITS: dict[str, Decimal] = {
    "ft³/s": Decimal(1),
    "ft3/s": Decimal(1),
    "ft^3/s": Decimal(1),
    "cfs": Decimal(1),
    "kcfs": Decimal(1000),
}

# The one series stored per NWM run: the deterministic run (short range: ``series``) or the
# ensemble mean (medium/long range: ``mean``); ``member1`` only when NWPS sends neither.
NWM_PRIMARY_KEYS = ("series", "mean")
NWM_FALLBACK_MEMBER = "member1"
_MEMBER_KEY = re.compile(r"^member(\d+)$")


def is_missing(value: Any) -> bool:
    """``None``, ``""``, NWPS's numeric sentinels, NaN and the zero time all mean "no value"."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in ("", MISSING_TIME)
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isnan(value) or float(value) in MISSING_NUMBERS
    return False


def _text(value: Any) -> str | None:
    """A metadata field as a clean string, or ``None`` when NWPS says "no value"."""
    if is_missing(value) or isinstance(value, (dict, list)):
        return None
    text = (clean_text(str(value)) or "").strip()
    return text or None


def _coordinate(value: Any) -> float | None:
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None



def parse_gauge(doc: Any, lid: str) -> dict[str, Any]:
    """A ``/gauges/{lid}`` document → ``lid, usgs_id, reach_id, name, time_zone, rfc, latitude, longitude``."""
    if not isinstance(doc, dict):
        raise PayloadError(f"gauge {lid}: expected a JSON object, got {type(doc).__name__}")
    rfc = doc.get("rfc")
    gauge = {
        "lid": _text(doc.get("lid")),
        "usgs_id": _text(doc.get("usgsId")),
        "reach_id": _text(doc.get("reachId")),
        "name": _text(doc.get("name")),
        "time_zone": _text(doc.get("timeZone")),
        "latitude": _coordinate(doc.get("latitude")),
        "longitude": _coordinate(doc.get("longitude")),
        "rfc": _text(rfc.get("abbreviation")) if isinstance(rfc, dict) else _text(rfc),
    }
    if gauge["lid"] is None:
        raise PayloadError(f"gauge {lid}: the answer has no 'lid'")
    return gauge


def parse_time(value: Any, *, field: str, what: str) -> datetime | None:
    """An NWPS timestamp (``2026-11-20T12:00:00Z``) as UTC; ``None`` for the zero time."""
    if is_missing(value):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what}: {field} {value!r} is not a timestamp")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadError(f"{what}: {field} {value!r} is not a timestamp") from None
    if when.tzinfo is None:
        raise PayloadError(f"{what}: {field} {value!r} has no UTC offset")
    return when.astimezone(timezone.utc)


def _run_time(value: Any, *, field: str, what: str) -> datetime:
    run = parse_time(value, field=field, what=what)
    if run is None:
        raise PayloadError(f"{what}: has values but no {field} to identify the run")
    return run


def parse_series(
    points: list, *, value_key: str, units: Any, known_units: dict[str, Decimal], what: str
) -> tuple[tuple[tuple[datetime, float], ...], int, int]:
    """``[(valid_time UTC, cfs), ...]`` sorted, one value per time; how many were missing; how many not finite.

    A value that is NaN, ±inf, or overflows a float once converted to cfs (``1e400``, ``1.7e308``
    kcfs) is dropped and counted as not finite; NWPS's sentinels (-999, ...) count as missing.
    """
    by_time: dict[datetime, Decimal] = {}
    dropped = 0
    non_finite = 0
    for point in points:
        if not isinstance(point, dict):
            raise PayloadError(f"{what}: data point {point!r} is not an object")
        raw = point.get(value_key)
        valid = parse_time(point.get("validTime"), field="validTime", what=what)
        if isinstance(raw, float) and math.isnan(raw) and valid is not None:  # a NaN is sent, not missing
            non_finite += 1
            by_time.pop(valid, None)
            continue
        if is_missing(raw) or valid is None:
            dropped += 1
            continue
        if isinstance(raw, bool):
            raise PayloadError(f"{what}: {value_key} {raw!r} is not a number")
        try:
            # Decimal of the shortest repr: 1.43 kcfs becomes exactly 1430 cfs, not 1429.9999999999998.
            number = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
        except InvalidOperation:
            raise PayloadError(f"{what}: {value_key} {raw!r} is not a number") from None
        if not number.is_finite():
            non_finite += 1
            by_time.pop(valid, None)  # a repeated valid time: the later point wins, even when it is dropped
            continue
        by_time[valid] = number  # a repeated valid time: the later point wins
    if not by_time:
        return (), dropped, non_finite
    unit = str(units).strip() if units is not None else ""
    if unit not in known_units:
        shown = repr(unit) if unit else "missing"
        raise PayloadError(f"{what}: flow unit {shown} is not one of {', '.join(known_units)}")
    factor = known_units[unit]
    values: list[tuple[datetime, float]] = []
    for t in sorted(by_time):
        flow = float(by_time[t] * factor)  # an overflow becomes inf here
        if math.isfinite(flow):
            values.append((t, flow))
        else:
            non_finite += 1
    return tuple(values), dropped, non_finite


def parse_rfc_forecast(
    doc: Any, *, lid: str, station: str
) -> tuple[ForecastRunData | None, int, int, int, Any]:
    """A ``stageflow/forecast`` document → the run (``None``: no flow values), points, missing, not finite, unit."""
    if isinstance(doc, dict) and "data" not in doc and isinstance(doc.get("forecast"), dict):
        doc = doc["forecast"]  # the whole /stageflow document: use its forecast block
    if not isinstance(doc, dict):
        raise PayloadError(f"gauge {lid}: forecast is not a JSON object")
    points = doc.get("data")
    if points is None:
        points = []
    if not isinstance(points, list):
        raise PayloadError(f"gauge {lid}: forecast 'data' is not a list")
    what = f"gauge {lid} forecast"
    values, dropped, non_finite = parse_series(
        points, value_key="secondary", units=doc.get("secondaryUnits"), known_units=RFC_FLOW_UNITS, what=what
    )
    if not values:
        return None, len(points), dropped, non_finite, doc.get("secondaryUnits")
    run = ForecastRunData(
        station_number=station,
        source=FORECAST_SOURCE[DataType.RFC_FORECAST],
        data_type=DataType.RFC_FORECAST.value,
        run_date=_run_time(doc.get("issuedTime"), field="issuedTime", what=what),
        unit=Unit.CFS.value,
        values=values,
        values_dropped=non_finite,
    )
    return run, len(points), dropped, non_finite, doc.get("secondaryUnits")


def nwm_block(doc: Any, *, key: str, reach: str) -> dict | None:
    """The answer's ``key`` series block (``shortRange`` ...); ``None`` when NWPS sent it empty."""
    if not isinstance(doc, dict):
        raise PayloadError(f"NWM reach {reach}: expected a JSON object")
    if key not in doc:
        raise PayloadError(f"NWM reach {reach}: the answer has no '{key}' series")
    block = doc[key]
    if not block:  # unrequested or unavailable series come back as {}
        return None
    if not isinstance(block, dict):
        raise PayloadError(f"NWM reach {reach}: '{key}' is not a JSON object")
    return block


def nwm_members(block: dict, *, key: str, reach: str) -> tuple[str, list[str], bool]:
    """The series to store (``series``/``mean``, else ``member1``), every ``memberN``, and whether it fell back."""
    members = sorted(
        (k for k in block if _MEMBER_KEY.match(k)), key=lambda k: int(_MEMBER_KEY.match(k).group(1))
    )
    primary = next((k for k in NWM_PRIMARY_KEYS if k in block), None)
    if primary is not None:
        return primary, members, False
    if NWM_FALLBACK_MEMBER in block:
        return NWM_FALLBACK_MEMBER, members, True
    raise PayloadError(f"NWM reach {reach}: '{key}' has none of {', '.join(NWM_PRIMARY_KEYS)} or members")


def parse_nwm_run(
    block: Any, *, name: str, data_type: DataType, station: str, reach: str, key: str
) -> tuple[ForecastRunData | None, int]:
    """One NWM series (``block[name]``) → a run in cfs (``None`` when it has no flow values), and
    how many non-finite values were dropped."""
    what = f"NWM reach {reach} {key}.{name}"
    if not block:
        return None, 0
    if not isinstance(block, dict):
        raise PayloadError(f"{what}: is not a JSON object")
    points = block.get("data") or []
    if not isinstance(points, list):
        raise PayloadError(f"{what}: 'data' is not a list")
    values, _dropped, non_finite = parse_series(
        points, value_key="flow", units=block.get("units"), known_units=NWM_FLOW_UNITS, what=what
    )
    if not values:
        return None, non_finite
    return ForecastRunData(
        station_number=station,
        source=FORECAST_SOURCE[data_type],
        data_type=data_type.value,
        run_date=_run_time(block.get("referenceTime"), field="referenceTime", what=what),
        unit=Unit.CFS.value,
        values=values,
        member=None if name in NWM_PRIMARY_KEYS else name,
        values_dropped=non_finite,
    ), non_finite
