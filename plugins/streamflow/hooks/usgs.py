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
* **One chunk, one request.** The pull cuts the window into chunks of at most
  :meth:`UsgsWaterDataHook.max_chunk` (:func:`streamflow.windows.chunk_window`; continuous stays
  under the service's 1,100-day envelope); a longer window is refused, never re-chunked here.
* **Pagination**: the library follows ``next`` links to the end and raises when a later page
  fails (it retries only a failure of the first page); that error becomes a retryable
  :class:`~streamflow.errors.TransientSourceError` and no partial frame is ever returned.
  Residual risk, not fixable from outside the library: a page with ``features: []`` ends the
  walk even if it carries a ``next`` link, and a repeated cursor ends it silently.
* **Errors** become our family: 429 (``retry_after`` kept), 5xx, timeouts and broken pages are
  transient; 404, 400 (OGC ``InvalidQuery``), other 4xx and unparseable payloads are permanent.
* **Payload → canonical frame**: :mod:`streamflow.parsers.usgs` (pure functions).

See ``docs/sources.md`` (section "USGS Water Data API") for the hydrologist-facing summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import dataretrieval
import httpx
import pandas as pd
from dataretrieval import exceptions as dr_exceptions
from dataretrieval import waterdata
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
from streamflow.configurations import StationSpec
from streamflow.provider import connection_form
from streamflow.hooks.base import ObservationHook, StreamflowHttpHook
from streamflow.parsers.usgs import bare_station, parse_observations, parse_site
from streamflow.timeutil import floor_second
from streamflow.vocabulary import DataType, Source

PARAMETER_DISCHARGE = "00060"  # discharge, ft³/s
STATISTIC_DAILY_MEAN = "00003"
_UTC_INSTANT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
_CONTINUOUS_INTERVAL = re.compile(rf"^{_UTC_INSTANT}/{_UTC_INSTANT}$")
_DAILY_INTERVAL = re.compile(r"^\d{4}-\d{2}-\d{2}/\d{4}-\d{2}-\d{2}$")
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


class UsgsWaterDataHook(ObservationHook, StreamflowHttpHook):
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
    hook_name = connection_form(conn_type).display_name
    default_host = connection_form(conn_type).default_host
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

    # ------------------------------------------------------------------ ObservationHook

    @classmethod
    def max_chunk(cls, data_type: str | DataType) -> timedelta:
        """Longest window one request may cover for ``data_type`` (``daily_mean``, ``realtime_15min``)."""
        key = DataType(data_type).value
        try:
            return cls.MAX_CHUNK[key]
        except KeyError:
            raise ConfigurationError(
                f"no observations of data type {key!r} (USGS serves daily_mean, realtime_15min)", source=cls.source
            ) from None

    def _fetch_observations(
        self, station: StationSpec, data_type: DataType, start: datetime, end: datetime
    ) -> pd.DataFrame:
        if data_type == DataType.DAILY_MEAN:
            return self.get_daily_means([station.station_number], start, end)
        return self.get_instantaneous([station.station_number], start, end)

    def station_metadata(self, station: StationSpec) -> dict[str, Any]:
        return self.get_site_metadata(station.station_number)

    # ------------------------------------------------------------------ public API

    def get_daily_means(self, station_numbers: Sequence[str], start: datetime, end: datetime) -> pd.DataFrame:
        """Daily mean discharge (00060/00003) for the calendar days ``start``..``end`` (UTC dates), one request.

        ``observed_at`` is the day the service reports (the station's local day) at 00:00 UTC. A
        window of ``max_chunk`` touches ``max_chunk.days + 1`` calendar dates: still one request.
        """
        stations = _station_list(station_numbers)
        start, end = self.chunk_bounds(DataType.DAILY_MEAN, start, end)
        return self._fetch_series(
            "daily",
            stations,
            _daily_interval(start.date(), end.date()),
            data_type=DataType.DAILY_MEAN,
            statistic_id=STATISTIC_DAILY_MEAN,
        )

    def get_instantaneous(
        self, station_numbers: Sequence[str], start: datetime, end: datetime
    ) -> pd.DataFrame:
        """Continuous discharge (00060) between the instants ``start`` and ``end``, true UTC instants; one request."""
        stations = _station_list(station_numbers)
        start, end = self.chunk_bounds(DataType.REALTIME_15MIN, start, end)
        interval = _continuous_interval(floor_second(start), floor_second(end, up=True))
        return self._fetch_series("continuous", stations, interval, data_type=DataType.REALTIME_15MIN)

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
        meta = parse_site(frame.iloc[0])
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
            raise ConfigurationError(f"refusing to send malformed time interval {interval!r}", source=self.source)
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
        try:
            frame, notes = parse_observations(raw, data_type)
        except PayloadError as exc:
            raise PayloadError(
                f"{exc.reason} ({short_url(url)})", source=self.source, station_number=label, url=url
            ) from None
        for note in notes:
            self.log.warning("%s: station %s: %s", self.source, label, note)
        return frame

    # ------------------------------------------------------------------ errors

    def _redact(self, text: str) -> str:
        key = self.api_key
        return text.replace(key, "***") if key else text

    def _translate(self, exc: BaseException, label: str, url: str) -> StreamflowError:
        """Map a dataretrieval/httpx failure to our exception family (docs/adr/0008-errors-and-retries.md).

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


# ---------------------------------------------------------------------- helpers


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


def _station_list(station_numbers: Sequence[str] | str) -> list[str]:
    if isinstance(station_numbers, str):
        station_numbers = [station_numbers]
    stations: list[str] = []
    for raw in station_numbers:
        station = bare_station(str(raw).strip())
        if not (station.isdigit() and 8 <= len(station) <= 15):
            raise ConfigurationError(
                f"{raw!r} is not a USGS site number (8–15 digits, e.g. '01646500')", source=Source.USGS.value
            )
        if station not in stations:
            stations.append(station)
    if not stations:
        raise ConfigurationError("no station numbers given", source=Source.USGS.value)
    return stations


def _continuous_interval(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def _daily_interval(first: date, last: date) -> str:
    return f"{first.isoformat()}/{last.isoformat()}"


