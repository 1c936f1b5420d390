"""USGS Water Data API hook: daily means, continuous (instantaneous) values and site metadata.

Talks to the Water Data OGC API (``https://api.waterdata.usgs.gov/ogcapi/v1``) through
``dataretrieval.waterdata`` 1.4 (never the legacy ``nwis`` module, which is being retired).
What this hook adds on top of the library, and why (facts measured on dataretrieval 1.4.0):

* **Configuration through the library's own chain.** Each call runs inside
  ``dataretrieval.configure(Configuration(...), WaterdataConfiguration(...))``: the connection's
  host becomes the library's ``base_url`` (the library appends ``/ogcapi/v1/collections/...``),
  the connection's password becomes the library's ``api_key``, and ``retries`` /
  ``stall_timeout`` bound the library's own retry loop. The block is a ContextVar, so nothing
  leaks into other threads or tasks. The library sends the key as ``X-Api-Key`` **only** to
  ``https://api.waterdata.usgs.gov`` (any port): a redirected host (a replay server, a proxy)
  never receives it. Without a password the library's usual sources apply (``API_USGS_PAT``,
  ``~/.dataretrieval/config.toml``).
* **Time windows are built here, never by the library.** Naive time strings would be read in the
  machine's local zone, and an unparseable one is sent as an empty ``time=`` that the service
  answers with its default window. So only aware datetimes are accepted, the interval string is
  built here (UTC ``…Z/…Z`` for continuous, ``YYYY-MM-DD/YYYY-MM-DD`` for daily), checked
  against a strict pattern before the call, and compared with the ``time`` the library actually
  sent afterwards.
* **Windows are split** into pieces of at most :meth:`UsgsWaterDataHook.max_chunk` (continuous
  stays under the service's 1,100-day envelope).
* **Pagination**: the library follows ``next`` links to the end and raises when a later page
  fails (it retries only a failure of the first page); that error becomes a retryable
  :class:`~streamflow.errors.TransientSourceError` and no partial frame is ever returned.
  Residual risk, not fixable from outside the library: a page with ``features: []`` ends the
  walk even if it carries a ``next`` link, and a repeated cursor ends it silently.
* **Errors** become our family: 429 (``retry_after`` kept), 5xx, timeouts and broken pages are
  transient; 404, 400 (OGC ``InvalidQuery``), other 4xx and unparseable payloads are permanent.
* **Payload → canonical frame**: values arrive as strings or null (converted, nulls dropped),
  daily rows may be out of order (sorted), units are read per row.

See ``docs/sources.md`` (section "USGS Water Data API") for the hydrologist-facing summary.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import dataretrieval
import httpx
import pandas as pd
from dataretrieval import exceptions as dr_exceptions
from dataretrieval import waterdata
from dataretrieval.codes import to_state
from dataretrieval.codes.timezones import tz as _TZ_OFFSETS
from dataretrieval.exceptions import NetworkError
from dataretrieval.interruptions import FanOutInterrupted
from dataretrieval.waterdata import WaterdataConfiguration
from dataretrieval.waterdata.endpoints import ogc_api_url

from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    PermanentSourceError,
    StationNotFoundError,
    StreamflowError,
    TransientSourceError,
    error_for_status,
    short_url,
)
from streamflow.canonical import canonical_observations, empty_observations
from streamflow.hooks.base import StreamflowHttpHook
from streamflow.vocabulary import CFS_PER_CMS, Agency, DataType, Source, Unit

PARAMETER_DISCHARGE = "00060"  # discharge, ft³/s
STATISTIC_DAILY_MEAN = "00003"
SQ_MILES_TO_KM2 = 2.589988110336  # 1 mi² = 2.589988110336 km² (exact, international mile)
QUALITY_CODE_MAX_LENGTH = 10  # discharge_observations.quality_code is String(10)

# approval_status → our approval letter (DESIGN §4: P provisional, A approved).
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

_UTC_INSTANT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
_CONTINUOUS_INTERVAL = re.compile(rf"^{_UTC_INSTANT}/{_UTC_INSTANT}$")
_DAILY_INTERVAL = re.compile(r"^\d{4}-\d{2}-\d{2}/\d{4}-\d{2}-\d{2}$")
_OFFSET_SUFFIX = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_PAGES_COLLECTED = re.compile(r"after collecting (\d+) page\(s\)")
_URL_SUFFIX = re.compile(r"\s*\(URL: [^)]*\)")

_SERIES_PROPERTIES = [
    "monitoring_location_id",
    "time_series_id",
    "time",
    "value",
    "unit_of_measure",
    "approval_status",
    "qualifier",
]
_SITE_PROPERTIES = [
    "monitoring_location_name",
    "state_code",
    "state_name",
    "country_code",
    "hydrologic_unit_code",
    "drainage_area",
    "time_zone_abbreviation",
    "uses_daylight_savings",
]


class UsgsWaterDataHook(StreamflowHttpHook):
    """Read USGS discharge (daily means, continuous values) and site metadata.

    :param conn_id: Airflow connection id (default ``usgs_waterdata``). Host = service root
        (default ``https://api.waterdata.usgs.gov``); password = optional API key.
    :param retries: retries dataretrieval makes itself after a transient failure of a request's
        first page (``0`` disables them; ``None`` keeps the library's setting, default 4).
        Airflow task retries come on top of these.
    :param stall_timeout: seconds the library may go without receiving data before it stops
        retrying (``None`` keeps the library's setting, default 60).
    :param timeout: (connect, read) seconds for :meth:`test_connection` only; data requests use
        dataretrieval's own client timeouts (10 s connect, 60 s read in 1.4.0).
    """

    conn_name_attr = "conn_id"
    default_conn_name = "usgs_waterdata"
    conn_type = "streamflow_usgs"
    hook_name = "USGS Water Data API"
    default_host = "https://api.waterdata.usgs.gov"
    source = Source.USGS.value

    #: OGC API version this hook is written against (the library's default in 1.4.0, pinned here
    #: so a ``[waterdata] api_version`` in someone's config file cannot change our columns).
    api_version: ClassVar[str] = "v1"
    #: The ``continuous`` collection refuses a ``time`` window longer than this.
    CONTINUOUS_ENVELOPE: ClassVar[timedelta] = timedelta(days=1100)
    #: Longest window one request covers, per data type (the planner's chunk size).
    MAX_CHUNK: ClassVar[dict[str, timedelta]] = {
        # ~10 years of daily means = ~3,650 rows per station: one page, one short request.
        DataType.DAILY_MEAN.value: timedelta(days=3650),
        # 180 days = at most 51,840 rows at 5-minute steps (one 50,000-row page and a bit): a chunk's
        # frames stay small, so a 10-year pull peaks under 400 MB RSS (docs/benchmarks.md §4);
        # far inside the service's 1,100-day envelope.
        DataType.REALTIME_15MIN.value: timedelta(days=180),
    }

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        retries: int | None = None,
        stall_timeout: float | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(conn_id, timeout=timeout)
        self.retries = retries
        self.stall_timeout = stall_timeout

    # ------------------------------------------------------------------ planner interface

    @classmethod
    def max_chunk(cls, data_type: str | DataType) -> timedelta:
        """Longest window one request may cover for ``data_type`` (``daily_mean``, ``realtime_15min``)."""
        key = DataType(data_type).value
        try:
            return cls.MAX_CHUNK[key]
        except KeyError:
            raise ValueError(
                f"usgs: no observations of data type {key!r} (USGS serves daily_mean, realtime_15min)"
            ) from None

    # ------------------------------------------------------------------ public API

    def get_daily_means(self, station_numbers: Sequence[str], start: datetime, end: datetime) -> pd.DataFrame:
        """Daily mean discharge (00060/00003) for the calendar days ``start``..``end`` (UTC dates).

        ``observed_at`` is the day the service reports (the station's local day) at 00:00 UTC.
        """
        stations = _station_list(station_numbers)
        first, last = _utc(start, "start").date(), _utc(end, "end").date()
        if first > last:
            raise ValueError(f"usgs: start {start.isoformat()} is after end {end.isoformat()}")
        frames = [
            self._fetch_series(
                "daily",
                stations,
                _daily_interval(a, b),
                data_type=DataType.DAILY_MEAN,
                statistic_id=STATISTIC_DAILY_MEAN,
            )
            # A window of max_chunk touches max_chunk.days + 1 calendar dates: still one request.
            for a, b in _date_windows(first, last, self.max_chunk(DataType.DAILY_MEAN).days + 1)
        ]
        return (
            canonical_observations(pd.concat(frames, ignore_index=True)) if frames else empty_observations()
        )

    def get_instantaneous(
        self, station_numbers: Sequence[str], start: datetime, end: datetime
    ) -> pd.DataFrame:
        """Continuous discharge (00060) between the instants ``start`` and ``end``, true UTC instants."""
        stations = _station_list(station_numbers)
        first, last = (
            _whole_seconds(_utc(start, "start"), up=False),
            _whole_seconds(_utc(end, "end"), up=True),
        )
        if first > last:
            raise ValueError(f"usgs: start {start.isoformat()} is after end {end.isoformat()}")
        size = min(self.max_chunk(DataType.REALTIME_15MIN), self.CONTINUOUS_ENVELOPE)
        frames = [
            self._fetch_series(
                "continuous", stations, _continuous_interval(a, b), data_type=DataType.REALTIME_15MIN
            )
            for a, b in _instant_windows(first, last, size)
        ]
        return (
            canonical_observations(pd.concat(frames, ignore_index=True)) if frames else empty_observations()
        )

    def get_site_metadata(self, station_number: str) -> dict[str, Any]:
        """Name, position, time zone, HUC, state and catchment area (km²) of one station."""
        station = _station_list([station_number])[0]
        with self._library(station) as items_url:
            frame, _md = self._call(
                waterdata.get_monitoring_locations,
                station,
                items_url("monitoring-locations"),
                monitoring_location_id=f"USGS-{station}",
                properties=_SITE_PROPERTIES,
                convert_type=False,
            )
        if frame.empty:
            raise StationNotFoundError(
                f"unknown station (monitoring-locations has no USGS-{station})",
                source=self.source,
                station_number=station,
            )
        row = frame.iloc[0]
        longitude, latitude = _coordinates(row.get("geometry"))
        area_sq_mi = _float_or_none(row.get("drainage_area"))
        meta = {
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
        self.log.info("%s: station %s: site metadata read (%s)", self.source, station, meta["name"])
        return meta

    # ------------------------------------------------------------------ library plumbing

    @contextmanager
    def _library(self, station_label: str) -> Iterator[Any]:
        """Run dataretrieval calls with this connection's base URL, key and retry settings.

        Yields a function ``collection -> items URL`` (resolved through the library's own
        configuration) for error messages.
        """
        package: dict[str, Any] = {"progress": False}  # no progress line in worker logs
        if self.api_key:
            package["api_key"] = self.api_key
        adapter: dict[str, Any] = {"base_url": self.base_url, "api_version": self.api_version}
        # The connection's extra may tune the library's own retries too, e.g. {"retries": 0} to leave
        # every retry to Airflow (the fault drills and the replay tests run that way).
        extra = (self.connection.extra_dejson or {}) if self.connection is not None else {}
        retries = self.retries if self.retries is not None else extra.get("retries")
        stall_timeout = self.stall_timeout if self.stall_timeout is not None else extra.get("stall_timeout")
        if retries is not None:
            adapter["retries"] = int(retries)
        if stall_timeout is not None:
            adapter["stall_timeout"] = float(stall_timeout)
        try:
            configurations = (dataretrieval.Configuration(**package), WaterdataConfiguration(**adapter))
            with dataretrieval.configure(*configurations):
                yield lambda collection: f"{ogc_api_url()}/collections/{collection}/items"
        except dr_exceptions.ConfigurationError as exc:
            raise ConfigurationError(
                f"dataretrieval configuration refused: {self._redact(str(exc))}",
                source=self.source,
                station_number=station_label,
            ) from exc

    def _call(self, getter: Any, station_label: str, url: str, **kwargs: Any) -> tuple[pd.DataFrame, Any]:
        """Call a dataretrieval getter; every failure leaves as one of our exceptions."""
        self.log.debug("%s: station %s: %s %s", self.source, station_label, getter.__name__, kwargs)
        try:
            return getter(**kwargs)
        except (dr_exceptions.DataRetrievalError, httpx.HTTPError) as exc:
            raise self._translate(exc, station_label, url) from exc

    def _fetch_series(
        self,
        collection: str,
        stations: list[str],
        interval: str,
        *,
        data_type: DataType,
        statistic_id: str | None = None,
    ) -> pd.DataFrame:
        pattern = _DAILY_INTERVAL if collection == "daily" else _CONTINUOUS_INTERVAL
        if not pattern.fullmatch(interval):  # never let the library send an empty/odd time=
            raise ValueError(f"usgs: refusing to send malformed time interval {interval!r}")
        label = ",".join(stations)
        kwargs: dict[str, Any] = {
            "monitoring_location_id": [f"USGS-{s}" for s in stations],
            "parameter_code": PARAMETER_DISCHARGE,
            "time": interval,
            "properties": _SERIES_PROPERTIES,
            "convert_type": False,  # we convert ourselves: no local-time parsing, no silent NaN
        }
        if statistic_id:
            kwargs["statistic_id"] = statistic_id
        getter = waterdata.get_daily if collection == "daily" else waterdata.get_continuous
        if collection == "daily":
            kwargs["skip_geometry"] = True
        with self._library(label) as items_url:
            url = items_url(collection)
            raw, metadata = self._call(getter, label, url, **kwargs)
        sent = parse_qs(urlsplit(getattr(metadata, "url", "") or "").query).get("time", [None])[0]
        if sent != interval:
            raise PermanentSourceError(
                f"dataretrieval sent time={sent!r} instead of {interval!r} ({short_url(url)}); "
                "refusing the answer",
                source=self.source,
                station_number=label,
                url=url,
            )
        frame = self._to_observations(raw, data_type, label, url)
        self.log.info(
            "%s: station %s: %s %s: %d rows", self.source, label, data_type.value, interval, len(frame)
        )
        return frame

    # ------------------------------------------------------------------ payload → frame

    def _to_observations(self, raw: pd.DataFrame, data_type: DataType, label: str, url: str) -> pd.DataFrame:
        if raw.empty:
            return empty_observations()
        try:
            frame, notes = _observation_frame(raw, data_type)
        except ValueError as exc:
            raise PayloadError(
                f"{exc} ({short_url(url)})", source=self.source, station_number=label, url=url
            ) from None
        for note in notes:
            self.log.warning("%s: station %s: %s", self.source, label, note)
        return canonical_observations(frame)

    # ------------------------------------------------------------------ errors

    def _redact(self, text: str) -> str:
        key = self.api_key
        return text.replace(key, "***") if key else text

    def _translate(self, exc: BaseException, label: str, url: str) -> StreamflowError:
        """Map a dataretrieval/httpx failure to our exception family (DESIGN §7).

        The library wraps failures several layers deep (a fan-out interruption around a
        pagination error around the HTTP error); the status, ``Retry-After`` and the service's
        own words are read from the innermost layer that has them.
        """
        explicit = list(_causes(exc, follow_context=False))
        everything = list(_causes(exc, follow_context=True))
        answered = [c for c in explicit if isinstance(c, dr_exceptions.HTTPError)]
        status = answered[-1].status_code if answered else getattr(exc, "status_code", None)
        retry_after = next(
            (c.retry_after for c in reversed(explicit) if getattr(c, "retry_after", None) is not None), None
        )
        innermost = answered[-1] if answered else explicit[-1]
        detail = self._redact(_URL_SUFFIX.sub("", str(innermost)).strip() or type(innermost).__name__)
        pages = _PAGES_COLLECTED.search(" ".join(str(c) for c in explicit))
        later_page = bool(pages and int(pages.group(1)) > 0)
        if later_page:
            done = int(pages.group(1))
            detail = (
                f"page {done + 1} of a paged answer failed after {done} complete page(s); "
                f"no partial data returned: {detail}"
            )
        if status is not None:
            return error_for_status(
                source=self.source,
                station_number=label,
                status_code=int(status),
                url=url,
                detail=detail,
                retry_after=retry_after,
            )
        if any(isinstance(c, dr_exceptions.ConfigurationError) for c in explicit):
            return ConfigurationError(
                f"dataretrieval configuration refused: {detail}", source=self.source, station_number=label
            )
        if any(isinstance(c, (httpx.TransportError, NetworkError, FanOutInterrupted)) for c in everything):
            kind = (
                "timed out"
                if any(isinstance(c, httpx.TimeoutException) for c in everything)
                else "connection failed"
            )
            return TransientSourceError(
                f"{kind} ({short_url(url)}): {detail}",
                source=self.source,
                station_number=label,
                url=url,
                retry_after=retry_after,
            )
        unparseable = any(isinstance(c, (ValueError, KeyError, TypeError, AttributeError)) for c in explicit)
        if unparseable and later_page:
            # The first page parsed, so the service speaks the format: a garbled later page is a
            # broken page (a gateway hiccup), worth retrying, not a changed format.
            return TransientSourceError(
                f"broken page ({short_url(url)}): {detail}", source=self.source, station_number=label, url=url
            )
        if unparseable:
            return PayloadError(
                f"answer could not be parsed ({short_url(url)}): {detail}",
                source=self.source,
                station_number=label,
                url=url,
            )
        return PermanentSourceError(
            f"request failed ({short_url(url)}): {detail}", source=self.source, station_number=label, url=url
        )


# ---------------------------------------------------------------------- helpers (pure)


def _causes(exc: BaseException, *, follow_context: bool) -> Iterator[BaseException]:
    """``exc`` and what it was raised from, outermost first, each once.

    ``__cause__`` (``raise … from``) is always followed; ``__context__`` (an error raised while
    handling another) only when asked, because it can reach an unrelated error in flight.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.append(current.__cause__)
        if follow_context:
            pending.append(current.__context__)


def _observation_frame(raw: pd.DataFrame, data_type: DataType) -> tuple[pd.DataFrame, list[str]]:
    """The library's raw string columns as observation rows (not yet canonical), plus warnings.

    Raises ``ValueError`` naming what is wrong when the answer cannot be read.
    """
    missing = [c for c in ("monitoring_location_id", "time", "value") if c not in raw.columns]
    if missing:
        raise ValueError(f"answer lacks {', '.join(missing)}")
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
            "station_number": [_bare_station(v) for v in column("monitoring_location_id")],
            "observed_at": [to_instant(t) for t in column("time")],
            "discharge": (discharge * pd.Series(factors, dtype="float64")).tolist(),
            "unit": Unit.CFS.value,
            "quality_code": quality,
            "data_type": data_type.value,
        }
    )
    return frame, notes


def _unit_factor(unit: Any) -> float:
    """Factor from the row's ``unit_of_measure`` to cfs (none given: 00060 is defined in ft³/s)."""
    text = _text(unit)
    if text is None:
        return 1.0
    factor = UNIT_FACTORS_TO_CFS.get(text)
    if factor is None:
        raise ValueError(f"unexpected unit_of_measure {text!r} for discharge")
    return factor


def _station_list(station_numbers: Sequence[str] | str) -> list[str]:
    if isinstance(station_numbers, str):
        station_numbers = [station_numbers]
    stations: list[str] = []
    for raw in station_numbers:
        station = _bare_station(str(raw).strip())
        if not (station.isdigit() and 8 <= len(station) <= 15):
            raise ValueError(f"usgs: {raw!r} is not a USGS site number (8–15 digits, e.g. '01646500')")
        if station not in stations:
            stations.append(station)
    if not stations:
        raise ValueError("usgs: no station numbers given")
    return stations


def _bare_station(location_id: Any) -> str:
    text = "" if location_id is None else str(location_id)
    return text[5:] if text.upper().startswith("USGS-") else text


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"usgs: {name} must be a timezone-aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"usgs: {name} {value.isoformat()} is naive; pass a timezone-aware datetime "
            "(a naive time would be read in the machine's local zone)"
        )
    return value.astimezone(UTC)


def _whole_seconds(value: datetime, *, up: bool) -> datetime:
    floor = value.replace(microsecond=0)
    return floor + timedelta(seconds=1) if up and value.microsecond else floor


def _continuous_interval(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def _daily_interval(first: date, last: date) -> str:
    return f"{first.isoformat()}/{last.isoformat()}"


def _instant_windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """Consecutive windows of at most ``size`` covering ``start..end`` (shared boundary instants)."""
    windows = []
    cursor = start
    while True:
        stop = min(cursor + size, end)
        windows.append((cursor, stop))
        if stop >= end:
            return windows
        cursor = stop


def _date_windows(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """Consecutive, non-overlapping inclusive date ranges of at most ``days`` days."""
    windows = []
    cursor = first
    while cursor <= last:
        stop = min(cursor + timedelta(days=days - 1), last)
        windows.append((cursor, stop))
        cursor = stop + timedelta(days=1)
    return windows


def _daily_instant(value: Any) -> datetime:
    """A reported day (``2026-09-28``) as that calendar day at 00:00 UTC, never via local time."""
    text = _text(value) or ""
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"daily time {value!r} is not a date") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _continuous_instant(value: Any) -> datetime:
    """An instant with its offset (``2026-10-01T00:05:00+00:00``) in UTC; no offset is an error."""
    text = _text(value) or ""
    try:
        if not _OFFSET_SUFFIX.search(text):
            raise ValueError(text)
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"continuous time {value!r} is not an instant with a UTC offset") from None
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
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(raw, (list, tuple)) or hasattr(raw, "tolist"):
        items = raw.tolist() if hasattr(raw, "tolist") else list(raw)
        return [str(item).strip() for item in items if item is not None and str(item).strip()]
    return [str(raw).strip()]


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
    text = str(value).strip()
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
