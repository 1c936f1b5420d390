"""NOAA National Water Prediction Service (NWPS): gauge metadata, RFC forecasts, NWM forecasts.

Endpoints (base ``https://api.water.noaa.gov``, connection ``noaa_nwps``, no API key):

* ``/nwps/v1/gauges/{lid}`` — gauge metadata: the NWS location id (LID), USGS id, NWM reach id.
* ``/nwps/v1/gauges/{lid}/stageflow/forecast`` — the official River Forecast Center forecast.
  Run = the block's ``issuedTime``; flow = ``secondary`` in the block's ``secondaryUnits``
  (usually ``kcfs``; the gauge's flood metadata says ``cfs`` — never read the unit from there).
* ``/nwps/v1/reaches/{reachId}/streamflow?series=short_range|medium_range|long_range`` — the
  National Water Model. Run = the series' ``referenceTime``; flow in ``units`` (``ft³/s``).

NWPS spellings (``lid``, ``usgsId``, ``issuedTime``, ``secondary``, ``validTime``, ...) stay in
this module; callers get ``ForecastRunData`` in cfs with UTC times. ``docs/sources.md`` (NOAA
section) describes the rules: sentinels, units, which NWM member is kept.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote


from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    SourceError,
    StationNotFoundError,
    redact_url,
    short_url,
)
from streamflow.canonical import ForecastRunData
from streamflow.hooks.base import StreamflowHttpHook
from streamflow.vocabulary import FORECAST_SOURCE, DataType, Source, Unit

API_PREFIX = "/nwps/v1"

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

# data_type -> (the ``series`` query value, the key of that series in the answer)
NWM_SERIES: dict[DataType, tuple[str, str]] = {
    DataType.NWM_SHORT_RANGE: ("short_range", "shortRange"),
    DataType.NWM_MEDIUM_RANGE: ("medium_range", "mediumRange"),
    DataType.NWM_LONG_RANGE: ("long_range", "longRange"),
}
# The one series stored per NWM run: the deterministic run (short range: ``series``) or the
# ensemble mean (medium/long range: ``mean``); ``member1`` only when NWPS sends neither.
NWM_PRIMARY_KEYS = ("series", "mean")
NWM_FALLBACK_MEMBER = "member1"
_MEMBER_KEY = re.compile(r"^member(\d+)$")


def _is_missing(value: Any) -> bool:
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
    if _is_missing(value) or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _coordinate(value: Any) -> float | None:
    if _is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class NoaaNwpsHook(StreamflowHttpHook):
    """Talks to the NOAA National Water Prediction Service API (``/nwps/v1``).

    Every error names source ``noaa`` and *our* station id (USGS/EC), plus the NWPS gauge or
    reach it asked for. 404 → :class:`StationNotFoundError`; 429/5xx/timeouts/cut-off bodies →
    :class:`TransientSourceError`; a body that does not parse → :class:`PayloadError`.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "noaa_nwps"
    conn_type = "streamflow_noaa_nwps"
    hook_name = "NOAA National Water Prediction Service"
    default_host = "https://api.water.noaa.gov"
    source = Source.NOAA.value

    # ------------------------------------------------------------------ public API

    def get_gauge(self, lid: str, *, station_number: str | None = None) -> dict[str, Any]:
        """Metadata of one NWPS gauge (``lid`` may also be the USGS site number NWPS knows).

        Returns ``lid, usgs_id, reach_id, name, time_zone, rfc`` as strings and ``latitude,
        longitude`` as floats; each is ``None`` when NWPS leaves it empty or writes a sentinel.
        """
        lid = self._require_id(lid, "gauge id (LID)", station_number)
        station = station_number or lid
        path = self._path("gauges", lid)
        doc = self._fetch(path, station=station, what=f"gauge {lid}")
        if not isinstance(doc, dict):
            raise self._payload_error(
                station, f"gauge {lid}: expected a JSON object, got {type(doc).__name__}", path
            )
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
            raise self._payload_error(station, f"gauge {lid}: the answer has no 'lid'", path)
        self.log.info(
            "noaa: station %s: NWPS gauge %s (usgs %s, reach %s, rfc %s)",
            station,
            gauge["lid"],
            gauge["usgs_id"],
            gauge["reach_id"],
            gauge["rfc"],
        )
        return gauge

    def get_rfc_forecast(self, lid: str, *, station_number: str) -> ForecastRunData | None:
        """The River Forecast Center's current flow forecast for gauge ``lid``, in cfs.

        ``None`` when the gauge has no forecast (no data points, or a stage-only forecast whose
        flows are all missing): no data is not an error.
        """
        station = self._require_id(station_number, "station number", None)
        lid = self._require_id(lid, "gauge id (LID)", station)
        path = self._path("gauges", lid, "stageflow", "forecast")
        doc = self._fetch(path, station=station, what=f"gauge {lid}")
        if isinstance(doc, dict) and "data" not in doc and isinstance(doc.get("forecast"), dict):
            doc = doc["forecast"]  # the whole /stageflow document: use its forecast block
        if not isinstance(doc, dict):
            raise self._payload_error(station, f"gauge {lid}: forecast is not a JSON object", path)
        points = doc.get("data")
        if points is None:
            points = []
        if not isinstance(points, list):
            raise self._payload_error(station, f"gauge {lid}: forecast 'data' is not a list", path)
        what = f"gauge {lid} forecast"
        values, dropped = self._series(
            points,
            value_key="secondary",
            units=doc.get("secondaryUnits"),
            known_units=RFC_FLOW_UNITS,
            station=station,
            what=what,
            path=path,
        )
        if not values:
            self.log.info(
                "noaa: station %s: NWPS gauge %s has no flow forecast (%d points, %d missing)",
                station,
                lid,
                len(points),
                dropped,
            )
            return None
        run_date = self._run_time(
            doc.get("issuedTime"), field="issuedTime", station=station, what=what, path=path
        )
        self.log.info(
            "noaa: station %s: RFC forecast for gauge %s issued %s: %d values (%d missing dropped), %s → cfs",
            station,
            lid,
            run_date.isoformat(),
            len(values),
            dropped,
            doc.get("secondaryUnits"),
        )
        return ForecastRunData(
            station_number=station,
            source=FORECAST_SOURCE[DataType.RFC_FORECAST],
            data_type=DataType.RFC_FORECAST.value,
            run_date=run_date,
            unit=Unit.CFS.value,
            values=values,
        )

    def get_nwm_forecast(
        self,
        reach_id: str,
        data_type: DataType | str,
        *,
        station_number: str,
        include_members: bool = False,
    ) -> list[ForecastRunData]:
        """The current National Water Model run for ``reach_id``, in cfs.

        Returns one ``ForecastRunData`` per run: the deterministic series (short range) or the
        ensemble mean (medium/long range), ``member=None``. NWPS holds one run per series, so
        the list has at most one item; ``[]`` when NWPS has no data for the series.
        ``include_members=True`` appends every ``memberN`` as its own ``ForecastRunData``
        (``member="member1"``, ...); the database keeps one row per (station, source, run), so
        operators leave it off.
        """
        station = self._require_id(station_number, "station number", None)
        reach = self._require_id(reach_id, "NWM reach id", station)
        try:
            kind = DataType(data_type)
            series, key = NWM_SERIES[kind]
        except (ValueError, KeyError):
            choices = ", ".join(t.value for t in NWM_SERIES)
            raise ConfigurationError(
                f"{str(data_type)!r} is not an NWM forecast type (one of {choices})",
                source=self.source,
                station_number=station,
            ) from None
        path = self._path("reaches", reach, "streamflow")
        doc = self._fetch(path, station=station, what=f"NWM reach {reach}", params={"series": series})
        if not isinstance(doc, dict):
            raise self._payload_error(station, f"NWM reach {reach}: expected a JSON object", path)
        if key not in doc:
            raise self._payload_error(station, f"NWM reach {reach}: the answer has no '{key}' series", path)
        block = doc[key]
        if not block:  # unrequested or unavailable series come back as {}
            self.log.info("noaa: station %s: NWM reach %s has no %s forecast", station, reach, series)
            return []
        if not isinstance(block, dict):
            raise self._payload_error(station, f"NWM reach {reach}: '{key}' is not a JSON object", path)

        members = sorted(
            (k for k in block if _MEMBER_KEY.match(k)), key=lambda k: int(_MEMBER_KEY.match(k).group(1))
        )
        primary = next((k for k in NWM_PRIMARY_KEYS if k in block), None)
        if primary is None and NWM_FALLBACK_MEMBER in block:
            primary = NWM_FALLBACK_MEMBER
            self.log.warning(
                "noaa: station %s: NWM reach %s %s has no deterministic/mean series; using %s",
                station,
                reach,
                series,
                NWM_FALLBACK_MEMBER,
            )
        if primary is None:
            raise self._payload_error(
                station,
                f"NWM reach {reach}: '{key}' has none of {', '.join(NWM_PRIMARY_KEYS)} or members",
                path,
            )
        wanted = [primary] + ([m for m in members if m != primary] if include_members else [])
        runs = []
        for name in wanted:
            run = self._nwm_run(
                block[name], name=name, data_type=kind, station=station, reach=reach, key=key, path=path
            )
            if run is not None:
                runs.append(run)
        if runs:
            self.log.info(
                "noaa: station %s: NWM %s for reach %s, run %s: %d values (%s; %d members %s)",
                station,
                series,
                reach,
                runs[0].run_date.isoformat(),
                len(runs[0].values),
                primary,
                len(members),
                "kept" if include_members else "not stored",
            )
        else:
            self.log.info("noaa: station %s: NWM reach %s has no %s flow values", station, reach, series)
        return runs

    # ------------------------------------------------------------------ plumbing

    def _path(self, *segments: str) -> str:
        # A connection host that already ends in /nwps/v1 is accepted as well.
        prefix = "" if self.base_url.endswith(API_PREFIX) else API_PREFIX
        return prefix + "/" + "/".join(quote(s, safe="") for s in segments)

    def _fetch(self, path: str, *, station: str, what: str, params: dict | None = None) -> Any:
        """GET JSON; a 404 means NWPS does not know the gauge/reach (its body: code 5, "could not find")."""
        try:
            return self.get_json(
                path, station_number=station, params=params, not_found_means_unknown_station=False
            )
        except SourceError as exc:
            if exc.status_code == 404:
                raise StationNotFoundError(
                    f"NWPS does not know {what}: {exc.reason}",
                    source=self.source,
                    station_number=station,
                    status_code=404,
                    url=exc.url,
                ) from exc
            raise

    def _require_id(self, value: Any, label: str, station: str | None) -> str:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise ConfigurationError(f"{label} is empty", source=self.source, station_number=station)
        return text

    def _payload_error(self, station: str, message: str, path: str) -> PayloadError:
        url = self.url(path)
        return PayloadError(
            f"{message} ({short_url(redact_url(url))})", source=self.source, station_number=station, url=url
        )

    def _time(self, value: Any, *, field: str, station: str, what: str, path: str) -> datetime | None:
        """An NWPS timestamp (``2026-11-20T12:00:00Z``) as UTC; ``None`` for the zero time."""
        if _is_missing(value):
            return None
        if not isinstance(value, str):
            raise self._payload_error(station, f"{what}: {field} {value!r} is not a timestamp", path)
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise self._payload_error(
                station, f"{what}: {field} {value!r} is not a timestamp", path
            ) from None
        if when.tzinfo is None:
            raise self._payload_error(station, f"{what}: {field} {value!r} has no UTC offset", path)
        return when.astimezone(timezone.utc)

    def _run_time(self, value: Any, *, field: str, station: str, what: str, path: str) -> datetime:
        run = self._time(value, field=field, station=station, what=what, path=path)
        if run is None:
            raise self._payload_error(station, f"{what}: has values but no {field} to identify the run", path)
        return run

    def _series(
        self,
        points: list,
        *,
        value_key: str,
        units: Any,
        known_units: dict[str, Decimal],
        station: str,
        what: str,
        path: str,
    ) -> tuple[tuple[tuple[datetime, float], ...], int]:
        """``[(valid_time UTC, cfs), ...]`` sorted, one value per time, and how many were missing."""
        by_time: dict[datetime, Decimal] = {}
        dropped = 0
        for point in points:
            if not isinstance(point, dict):
                raise self._payload_error(station, f"{what}: data point {point!r} is not an object", path)
            raw = point.get(value_key)
            valid = self._time(
                point.get("validTime"), field="validTime", station=station, what=what, path=path
            )
            if _is_missing(raw) or valid is None:
                dropped += 1
                continue
            if isinstance(raw, bool):
                raise self._payload_error(station, f"{what}: {value_key} {raw!r} is not a number", path)
            try:
                # Decimal of the shortest repr: 1.43 kcfs becomes exactly 1430 cfs, not 1429.9999999999998.
                number = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
            except InvalidOperation:
                raise self._payload_error(
                    station, f"{what}: {value_key} {raw!r} is not a number", path
                ) from None
            if not number.is_finite():
                dropped += 1
                continue
            by_time[valid] = number  # a repeated valid time: the later point wins
        if not by_time:
            return (), dropped
        unit = str(units).strip() if units is not None else ""
        if unit not in known_units:
            shown = repr(unit) if unit else "missing"
            raise self._payload_error(
                station, f"{what}: flow unit {shown} is not one of {', '.join(known_units)}", path
            )
        factor = known_units[unit]
        values = tuple((t, float(by_time[t] * factor)) for t in sorted(by_time))
        return values, dropped

    def _nwm_run(
        self, block: Any, *, name: str, data_type: DataType, station: str, reach: str, key: str, path: str
    ) -> ForecastRunData | None:
        what = f"NWM reach {reach} {key}.{name}"
        if not block:
            return None
        if not isinstance(block, dict):
            raise self._payload_error(station, f"{what}: is not a JSON object", path)
        points = block.get("data") or []
        if not isinstance(points, list):
            raise self._payload_error(station, f"{what}: 'data' is not a list", path)
        values, _dropped = self._series(
            points,
            value_key="flow",
            units=block.get("units"),
            known_units=NWM_FLOW_UNITS,
            station=station,
            what=what,
            path=path,
        )
        if not values:
            return None
        run_date = self._run_time(
            block.get("referenceTime"), field="referenceTime", station=station, what=what, path=path
        )
        return ForecastRunData(
            station_number=station,
            source=FORECAST_SOURCE[data_type],
            data_type=data_type.value,
            run_date=run_date,
            unit=Unit.CFS.value,
            values=values,
            member=None if name in NWM_PRIMARY_KEYS else name,
        )
