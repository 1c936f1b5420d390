"""USGS Water Data API payloads → our shapes (pure: no HTTP, no library calls).

The hook (:mod:`streamflow.hooks.usgs`) fetches the library's raw string columns; these functions
turn them into the canonical observation frame and the site metadata dict: values arrive as
strings or null (converted, nulls dropped), daily rows may be out of order (sorted), units are
read per row, approval and qualifiers become one quality code. A payload that cannot be read
raises :class:`~streamflow.errors.PayloadError` without source or station; the hook adds them.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from dataretrieval.codes import to_state
from dataretrieval.codes.timezones import tz as _TZ_OFFSETS

from streamflow.canonical import canonical_observations, clean_text, empty_observations, values_dropped
from streamflow.errors import PayloadError
from streamflow.vocabulary import CFS_PER_CMS, Agency, DataType, Unit

SQ_MILES_TO_KM2 = 2.589988110336  # 1 mi² = 2.589988110336 km² (exact, international mile)
QUALITY_CODE_MAX_LENGTH = 10  # discharge_observations.quality_code is String(10)

# approval_status → our approval letter (P provisional, A approved).
APPROVAL_CODES = {"approved": "A", "provisional": "P"}
# Qualifiers the Water Data API spells out, shortened to the NWIS codes hydrologists know.
# Anything else is kept as the service spells it (see _quality_code).
QUALIFIER_CODES = {"ESTIMATED": "e", "ICE": "Ice"}
# unit_of_measure spellings → factor to cfs.
UNIT_FACTORS_TO_CFS = {"ft^3/s": 1.0, "ft3/s": 1.0, "cfs": 1.0, "m^3/s": CFS_PER_CMS, "m3/s": CFS_PER_CMS}

# IANA zone of each US standard-time abbreviation, for sites that observe daylight saving time.
_DST_ZONES = {
    "EST": "America/New_York",
    "CST": "America/Chicago",
    "MST": "America/Denver",
    "PST": "America/Los_Angeles",
    "AKST": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "AST": "America/Puerto_Rico",
}
_OFFSET_SUFFIX = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def parse_observations(raw: pd.DataFrame, data_type: DataType) -> tuple[pd.DataFrame, list[str]]:
    """The library's raw answer → the canonical observation frame, plus warnings for the log."""
    if raw.empty:
        return empty_observations(), []
    frame, unparsed, notes = _observation_rows(raw, data_type)
    out = canonical_observations(frame, dropped=unparsed)  # adds the ±inf/overflow values to the count
    non_finite = values_dropped(out) - unparsed
    if non_finite:
        notes.append(f"{non_finite} value(s) are not finite (Infinity, overflow) and were dropped")
    return out, notes


def parse_site(row: pd.Series) -> dict[str, Any]:
    """One ``monitoring-locations`` row → name, position, time zone, HUC, state and catchment area (km²)."""
    longitude, latitude = _coordinates(row.get("geometry"))
    area_sq_mi = _float_or_none(row.get("drainage_area"))
    return {
        "name": _text(row.get("monitoring_location_name")),
        "latitude": latitude,
        "longitude": longitude,
        "timezone": _site_timezone(row.get("time_zone_abbreviation"), row.get("uses_daylight_savings")),
        "huc_code": _text(row.get("hydrologic_unit_code")),
        "state": _state(row.get("state_code"), row.get("state_name"), row.get("country_code")),
        # The API reports drainage_area in square miles (NWIS drain_area_va); we store km².
        "catchment_area": None if area_sq_mi is None else area_sq_mi * SQ_MILES_TO_KM2,
        "agency": Agency.USGS.value,
    }


def _observation_rows(raw: pd.DataFrame, data_type: DataType) -> tuple[pd.DataFrame, int, list[str]]:
    """The library's raw string columns as observation rows (not yet canonical), how many values
    were sent but are not numbers (``NaN``, text: dropped), plus warnings.

    Raises ``PayloadError`` naming what is wrong when the answer cannot be read.
    """
    missing = [c for c in ("monitoring_location_id", "time", "value") if c not in raw.columns]
    if missing:
        raise PayloadError(f"answer lacks {', '.join(missing)}")
    notes: list[str] = []

    def column(name: str) -> list[Any]:
        return raw[name].astype("object").tolist() if name in raw.columns else [None] * len(raw)

    values = column("value")
    discharge = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("float64")
    unparsed = sum(
        1 for v, d in zip(values, discharge, strict=True) if math.isnan(d) and _text(v) is not None
    )
    if unparsed:
        notes.append(f"{unparsed} value(s) are not numbers and were dropped")
    factors = [_unit_factor(unit) for unit in column("unit_of_measure")]
    to_instant = _daily_instant if data_type is DataType.DAILY_MEAN else _continuous_instant
    quality: list[str | None] = []
    for approval, qualifier in zip(column("approval_status"), column("qualifier"), strict=True):
        code, note = _quality_code(approval, qualifier)
        quality.append(code)
        if note and note not in notes:
            notes.append(note)
    if "time_series_id" in raw.columns:
        series = pd.DataFrame(
            {"location": column("monitoring_location_id"), "series": column("time_series_id")}
        )
        for location, count in series.groupby("location")["series"].nunique().items():
            if count > 1:
                notes.append(
                    f"{count} discharge time series answered for {location}; "
                    "values at the same instant are de-duplicated (last one wins)"
                )
    frame = pd.DataFrame(
        {
            "station_number": [bare_station(v) for v in column("monitoring_location_id")],
            "observed_at": [to_instant(t) for t in column("time")],
            "discharge": (discharge * pd.Series(factors, dtype="float64")).tolist(),
            "unit": Unit.CFS.value,
            "quality_code": quality,
            "data_type": data_type.value,
        }
    )
    return frame, unparsed, notes


def _unit_factor(unit: Any) -> float:
    """Factor from the row's ``unit_of_measure`` to cfs (none given: 00060 is defined in ft³/s)."""
    text = _text(unit)
    if text is None:
        return 1.0
    factor = UNIT_FACTORS_TO_CFS.get(text)
    if factor is None:
        raise PayloadError(f"unexpected unit_of_measure {text!r} for discharge")
    return factor


def bare_station(location_id: Any) -> str:
    text = "" if location_id is None else str(location_id)
    return text[5:] if text.upper().startswith("USGS-") else text


def _daily_instant(value: Any) -> datetime:
    """A reported day (``2026-09-28``) as that calendar day at 00:00 UTC, never via local time."""
    text = _text(value) or ""
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        raise PayloadError(f"daily time {value!r} is not a date") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _continuous_instant(value: Any) -> datetime:
    """An instant with its offset (``2026-10-01T00:05:00+00:00``) in UTC; no offset is an error."""
    text = _text(value) or ""
    instant = None
    if _OFFSET_SUFFIX.search(text):
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            instant = None
    if instant is None:
        raise PayloadError(f"continuous time {value!r} is not an instant with a UTC offset")
    return instant.astimezone(UTC)


def _qualifier_list(raw: Any) -> list[str]:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return []
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                return _qualifier_list(json.loads(text))
            except ValueError:
                pass
        return [part for part in (_text(p) for p in text.split(",")) if part]
    if isinstance(raw, (list, tuple)) or hasattr(raw, "tolist"):
        items = raw.tolist() if hasattr(raw, "tolist") else list(raw)
        return [text for text in (_text(item) for item in items) if text]
    text = _text(raw)
    return [text] if text else []


def _quality_code(approval: Any, qualifier: Any) -> tuple[str | None, str | None]:
    """Approval letter then qualifier codes, comma-separated: ``P``, ``A``, ``P,e``, ``A,Ice,e``.

    ``Approved`` → ``A``, ``Provisional`` → ``P`` (a missing or unknown status contributes
    nothing); then the qualifiers in the order the service lists them, ``ESTIMATED`` → ``e``,
    ``ICE`` → ``Ice``, any other kept as spelled. The code must fit the 10-character column:
    qualifiers that would not fit are left out, the approval letter never is. Returns the code
    (``None`` when empty) and a warning to log, if any.
    """
    parts: list[str] = []
    notes: list[str] = []
    status = _text(approval)
    if status is not None:
        letter = APPROVAL_CODES.get(status.lower())
        if letter:
            parts.append(letter)
        else:
            notes.append(f"unknown approval_status {status!r} left out of the quality code")
    dropped = []
    for name in _qualifier_list(qualifier):
        code = QUALIFIER_CODES.get(name.upper(), name)
        if code in parts:
            continue
        if len(",".join([*parts, code])) > QUALITY_CODE_MAX_LENGTH:
            dropped.append(name)
            continue
        parts.append(code)
    if dropped:
        notes.append(f"qualifier(s) {', '.join(dropped)} do not fit the quality code and were left out")
    return ",".join(parts) or None, "; ".join(notes) or None


def _coordinates(geometry: Any) -> tuple[float | None, float | None]:
    """(longitude, latitude) from a GeoJSON point (dataretrieval keeps ``[lon, lat]`` without geopandas)."""
    if isinstance(geometry, dict):
        geometry = geometry.get("coordinates")
    if hasattr(geometry, "x") and hasattr(geometry, "y"):  # a shapely Point when geopandas is present
        return float(geometry.x), float(geometry.y)
    if isinstance(geometry, (list, tuple)) and len(geometry) >= 2:
        return _float_or_none(geometry[0]), _float_or_none(geometry[1])
    return None, None


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = (clean_text(str(value)) or "").strip()  # no NUL / lone surrogate ever reaches the database
    return text or None


def _state(code: Any, name: Any, country: Any) -> str | None:
    """Two-letter postal code for US states/territories (what the master list and CLI use)."""
    country_code = _text(country)
    for candidate in (_text(code), _text(name)):
        if candidate is None or (country_code not in (None, "US")):
            continue
        try:
            return str(to_state(candidate, "postal"))
        except ValueError:
            continue
    return _text(name) or _text(code)


def _site_timezone(abbreviation: Any, uses_dst: Any) -> str | None:
    """IANA zone for sites on daylight saving time, else the fixed standard offset (``UTC-07:00``).

    The service gives the standard-time abbreviation (``EST``) and a DST flag (``Y``/``N``).
    """
    abbr = _text(abbreviation)
    if abbr is None:
        return None
    abbr = abbr.upper()
    dst = (_text(uses_dst) or "").upper() == "Y"
    if dst and abbr in _DST_ZONES:
        return _DST_ZONES[abbr]
    offset = _TZ_OFFSETS.get(abbr)
    if offset is None:
        return abbr
    return f"UTC{offset[:3]}:{offset[3:]}"
