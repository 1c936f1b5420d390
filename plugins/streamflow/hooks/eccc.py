"""Environment and Climate Change Canada (ECCC, agency ``EC``): Water Survey of Canada discharge.

Two services, two Airflow connections:

* ``eccc_datamart`` (default ``https://dd.weather.gc.ca``), the MSC Datamart: one real-time CSV
  per station, ``/today/hydrometric/csv/{PROV}/{hourly|daily}/{PROV}_{ID}_{freq}_hydrometric.csv``
  (``hourly`` = the last 2 complete days + today, ``daily`` = the last 30 complete days + today,
  5-minute rows in both), and the station list ``/today/hydrometric/doc/hydrometric_StationList.csv``.
  Timestamps are local STANDARD time with a fixed offset (``2023-11-04T00:00:00-08:00``, never DST).
* ``eccc_wateroffice`` (default ``https://wateroffice.ec.gc.ca``), the Water Office web services:
  ``/services/real_time_data/csv/inline`` (provisional real-time values, UTC, parameter 47 =
  discharge, 46 = level; about 18 months kept) and ``/services/daily_data/csv/inline`` (HYDAT daily
  means, approved, with a symbol per day).

:class:`EcccHook` is the observation hook the station pull calls. The window rules live in
:mod:`streamflow.windows`: the pull cuts the window into chunks that never cross the *seam* (00:00 UTC
of the day 29 days before today, UTC) and are at most :meth:`EcccHook.max_chunk` long;
:func:`streamflow.windows.eccc_realtime_request` says which service serves a chunk (the Datamart
from the seam on, the Water Office before it), and this hook sends that one request. Each instant
therefore comes from exactly one service: no duplicates and no gaps at the seam. The payload
parsers are :mod:`streamflow.parsers.eccc`. ``docs/sources.md`` (ECCC section) explains the rules a
hydrologist will ask about: time zones, units, quality codes, symbols and limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
from airflow.sdk import BaseHook

from streamflow.canonical import VALUES_DROPPED, canonical_observations, empty_observations, values_dropped
from streamflow.configurations import StationSpec
from streamflow.errors import ConfigurationError, PermanentSourceError, StationNotFoundError, short_url
from streamflow.provider import connection_form
from streamflow.hooks.base import ObservationHook, StreamflowHttpHook
from streamflow.parsers.eccc import (
    WATEROFFICE_PARAMETER_DISCHARGE,
    parse_datamart_csv,
    parse_station_list,
    parse_wateroffice_csv,
)
from streamflow.timeutil import as_utc, floor_day, floor_second, utc_now
from streamflow.vocabulary import DataType, Source
from streamflow.windows import (
    WATEROFFICE_DAILY_MAX_SPAN,
    WATEROFFICE_REALTIME_MAX_SPAN,
    eccc_realtime_earliest,
    eccc_realtime_request,
)

SOURCE = Source.ECCC.value

DATAMART_STATION_LIST_PATH = "/today/hydrometric/doc/hydrometric_StationList.csv"
DATAMART_CSV_PATH = (
    "/today/hydrometric/csv/{province}/{frequency}/{province}_{station}_{frequency}_hydrometric.csv"
)
WATEROFFICE_REALTIME_PATH = "/services/real_time_data/csv/inline"
WATEROFFICE_DAILY_PATH = "/services/daily_data/csv/inline"

_STATION_NUMBER = re.compile(r"^\d{2}[A-Z]{2}\d{3}$")
#: The Datamart's province/territory folders; nothing else goes into a URL path.
PROVINCES = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"})


def check_province(province: Any, station_number: str) -> str:
    """``bc `` -> ``BC``; anything that is not a province/territory code is a permanent error."""
    code = str(province).strip().upper() if province is not None else ""
    if code not in PROVINCES:
        raise ConfigurationError(
            f"province/territory {str(province)[:40]!r} is not one of {', '.join(sorted(PROVINCES))}; "
            "it names the station's Datamart folder (master_stations.state or the Datamart station list)",
            source=SOURCE,
            station_number=station_number,
        )
    return code


def normalize_station_number(station_number: str) -> str:
    """``08mf005 `` -> ``08MF005``; anything that is not a WSC station number is an unknown station."""
    text = str(station_number).strip().upper()
    if not _STATION_NUMBER.match(text):
        raise StationNotFoundError(
            f"unknown station: {station_number!r} is not a Water Survey of Canada station number "
            "(two digits, two letters, three digits, e.g. 08MF005)",
            source=SOURCE,
            station_number=str(station_number).strip() or None,
        )
    return text


def _keep(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    if frame.empty:
        return frame
    mask = (frame["observed_at"] >= pd.Timestamp(start)) & (frame["observed_at"] <= pd.Timestamp(end))
    return frame[mask].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The two service hooks
# --------------------------------------------------------------------------------------------


class _EcccHttpHook(StreamflowHttpHook):
    source = SOURCE


class EcccDatamartHook(_EcccHttpHook):
    """MSC Datamart (``dd.weather.gc.ca``): real-time station CSVs and the station list."""

    default_conn_name = "eccc_datamart"
    conn_type = "streamflow_eccc_datamart"
    hook_name = connection_form(conn_type).display_name
    default_host = connection_form(conn_type).default_host

    def __init__(self, conn_id: str | None = None, *, timeout: tuple[float, float] | None = None) -> None:
        super().__init__(conn_id, timeout=timeout)
        self._station_list: dict[str, dict[str, Any]] | None = None

    def station_list(self, *, station_number: str | None = None) -> dict[str, dict[str, Any]]:
        """The station list, fetched once per hook (``station_number`` only names the caller in errors)."""
        if self._station_list is None:
            text = self.get_text(
                DATAMART_STATION_LIST_PATH,
                station_number=station_number,
                not_found_means_unknown_station=False,
            )
            self._station_list = parse_station_list(
                text, url=self.url(DATAMART_STATION_LIST_PATH), station_number=station_number
            )
            self.log.info("%s: station list has %d stations", self.source, len(self._station_list))
        return self._station_list

    def realtime_discharge(self, station_number: str, province: str, frequency: str) -> pd.DataFrame:
        """Every discharge value of the station's ``hourly`` or ``daily`` file (one request)."""
        if frequency not in ("hourly", "daily"):
            raise ConfigurationError(
                f"Datamart frequency must be 'hourly' or 'daily', not {frequency!r}",
                source=SOURCE,
                station_number=station_number,
            )
        province = check_province(province, station_number)
        path = DATAMART_CSV_PATH.format(province=province, station=station_number, frequency=frequency)
        text = self.get_text(path, station_number=station_number)
        return parse_datamart_csv(text, station_number=station_number, url=self.url(path))


class EcccWaterOfficeHook(_EcccHttpHook):
    """Water Office web services (``wateroffice.ec.gc.ca``): real_time_data and daily_data."""

    default_conn_name = "eccc_wateroffice"
    conn_type = "streamflow_eccc_wateroffice"
    hook_name = connection_form(conn_type).display_name
    default_host = connection_form(conn_type).default_host

    @staticmethod
    def _query(pairs: list[tuple[str, str]]) -> str:
        # Spelled like the service's own examples: stations[]=08MF005&start_date=2025-10-22%2000:00:00
        return urlencode(pairs, quote_via=quote, safe="[]:")

    def realtime_discharge(self, station_number: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Discharge (parameter 47) in the closed UTC interval ``[start, end]``; one request."""
        start = floor_second(as_utc(start, "start", source=SOURCE, station_number=station_number))
        end = floor_second(as_utc(end, "end", source=SOURCE, station_number=station_number))
        if end - start > WATEROFFICE_REALTIME_MAX_SPAN:
            raise ConfigurationError(
                f"real_time_data window {start} → {end} exceeds {WATEROFFICE_REALTIME_MAX_SPAN}",
                source=SOURCE,
                station_number=station_number,
            )
        params = self._query(
            [
                ("stations[]", station_number),
                ("parameters[]", WATEROFFICE_PARAMETER_DISCHARGE),
                ("start_date", start.strftime("%Y-%m-%d %H:%M:%S")),
                ("end_date", end.strftime("%Y-%m-%d %H:%M:%S")),
            ]
        )
        text = self.get_text(WATEROFFICE_REALTIME_PATH, station_number=station_number, params=params)
        return parse_wateroffice_csv(
            text,
            "real_time_data", station_number=station_number, url=self.url(WATEROFFICE_REALTIME_PATH)
        )

    def daily_discharge(self, station_number: str, first_day: date, last_day: date) -> pd.DataFrame:
        """HYDAT daily mean discharge for the days ``first_day`` .. ``last_day`` (inclusive); one request."""
        if last_day - first_day > WATEROFFICE_DAILY_MAX_SPAN:
            raise ConfigurationError(
                f"daily_data window {first_day} → {last_day} exceeds {WATEROFFICE_DAILY_MAX_SPAN}",
                source=SOURCE,
                station_number=station_number,
            )
        params = self._query(
            [
                ("stations[]", station_number),
                ("parameters[]", "flow"),
                ("start_date", first_day.isoformat()),
                ("end_date", last_day.isoformat()),
            ]
        )
        text = self.get_text(WATEROFFICE_DAILY_PATH, station_number=station_number, params=params)
        return parse_wateroffice_csv(
            text,
            "daily_data", station_number=station_number, url=self.url(WATEROFFICE_DAILY_PATH)
        )


# --------------------------------------------------------------------------------------------
# The observation hook the station pull calls
# --------------------------------------------------------------------------------------------


class EcccHook(ObservationHook, BaseHook):
    """ECCC discharge: one chunk per call, the service chosen by :mod:`streamflow.windows`.

    ``now`` (a callable returning an aware datetime) fixes the clock that places the Datamart
    seam; only tests pass it.
    """

    hook_name = "ECCC (Datamart + Water Office)"
    source = SOURCE

    def __init__(
        self,
        *,
        datamart_conn_id: str = EcccDatamartHook.default_conn_name,
        wateroffice_conn_id: str = EcccWaterOfficeHook.default_conn_name,
        timeout: tuple[float, float] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.datamart_conn_id = datamart_conn_id
        self.wateroffice_conn_id = wateroffice_conn_id
        self._timeout = timeout
        self._now = now or utc_now

    @cached_property
    def datamart(self) -> EcccDatamartHook:
        return EcccDatamartHook(self.datamart_conn_id, timeout=self._timeout)

    @cached_property
    def wateroffice(self) -> EcccWaterOfficeHook:
        return EcccWaterOfficeHook(self.wateroffice_conn_id, timeout=self._timeout)

    # ------------------------------------------------------------------ ObservationHook

    def max_chunk(self, data_type: DataType | str) -> timedelta:
        """The longest window (end - start) one request covers; the pull chunks by it."""
        try:
            kind = DataType(data_type)
        except ValueError:
            kind = None
        if kind == DataType.REALTIME_15MIN:
            return WATEROFFICE_REALTIME_MAX_SPAN
        if kind == DataType.DAILY_MEAN:
            return WATEROFFICE_DAILY_MAX_SPAN
        raise ConfigurationError(
            f"data type {data_type!r} is not served (only realtime_15min and daily_mean)", source=SOURCE
        )

    def earliest(self, data_type: DataType | str, now: datetime) -> datetime | None:
        """The oldest instant the services can serve (the planner clamps window starts to it).

        ``realtime_15min``: ~18 months back (:func:`streamflow.windows.eccc_realtime_earliest`, the
        bound :func:`~streamflow.windows.eccc_realtime_request` applies too); ``daily_mean``: ``None``
        (HYDAT goes back to each station's first year).
        """
        self.max_chunk(data_type)  # refuses data types this hook does not serve
        if DataType(data_type) == DataType.REALTIME_15MIN:
            return eccc_realtime_earliest(now)
        return None

    def station_metadata(self, station: StationSpec) -> dict[str, Any]:
        return self.get_station_metadata(station.station_number)

    def _fetch_observations(
        self, station: StationSpec, data_type: DataType, start: datetime, end: datetime
    ) -> pd.DataFrame:
        if data_type == DataType.DAILY_MEAN:
            return self.get_daily_means([station.station_number], start, end)
        region = getattr(station, "region", None)
        provinces = {station.station_number: region} if region else None
        return self.get_instantaneous([station.station_number], start, end, provinces=provinces)

    # ------------------------------------------------------------------ per service

    def get_station_metadata(self, station_number: str) -> dict[str, Any]:
        """``station_number, name, latitude, longitude, state`` (province), ``timezone`` (fixed LST
        offset such as ``UTC-08:00``) and ``agency`` (``EC``) from the Datamart station list."""
        station = normalize_station_number(station_number)
        record = self.datamart.station_list(station_number=station).get(station)
        if record is None:
            raise StationNotFoundError(
                "unknown station: not in the Datamart station list "
                f"({short_url(DATAMART_STATION_LIST_PATH)})",
                source=SOURCE,
                station_number=station,
            )
        return dict(record)

    def _province(self, station: str, provinces: Mapping[str, str] | None) -> str:
        for key, value in (provinces or {}).items():
            if str(key).strip().upper() == station and value and str(value).strip():
                return str(value).strip().upper()
        province = self.get_station_metadata(station).get("state")
        if not province:
            raise PermanentSourceError(
                "the Datamart station list gives no province for the station",
                source=SOURCE,
                station_number=station,
            )
        return province

    def get_instantaneous(
        self,
        station_numbers: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        provinces: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """Discharge values (cms, ``realtime_15min``, UTC instants) with ``start <= observed_at <= end``.

        One chunk (at most :meth:`max_chunk`), one request per station, to the service
        :func:`streamflow.windows.eccc_realtime_request` names: Water Office ``real_time_data``
        before the Datamart seam, the Datamart file from it on. ``provinces`` (station -> ``BC``,
        ``YT`` ...) names the Datamart folder; stations missing from it are looked up in the
        Datamart station list.
        """
        stations = [normalize_station_number(s) for s in station_numbers]
        start, end = self.chunk_bounds(DataType.REALTIME_15MIN, start, end)
        request = eccc_realtime_request(start, end, now=as_utc(self._now(), "now", source=SOURCE))
        frames: list[pd.DataFrame] = []
        for station in stations:
            if request is None:
                self.log.info(
                    "%s: station %s: window %s → %s is older than the ~18 months of real-time data kept",
                    SOURCE, station, start.isoformat(), end.isoformat(),
                )
                continue
            if request.service == "wateroffice":
                frame = self.wateroffice.realtime_discharge(station, request.start, request.end)
                where = "Water Office real_time_data"
            else:
                province = self._province(station, provinces)
                frame = self.datamart.realtime_discharge(station, province, request.frequency or "daily")
                where = f"Datamart {province} {request.frequency} file"
            frames.append(self._kept(frame, station, request.start, request.end, "discharge values", where))
        return _combined(frames)

    def get_daily_means(self, station_numbers: Sequence[str], start: datetime, end: datetime) -> pd.DataFrame:
        """HYDAT daily mean discharge (cms, ``daily_mean``) for the days whose 00:00 UTC lies in
        ``[start, end]`` (one chunk, one request per station); days are the station's
        local-standard-time days as HYDAT reports them."""
        stations = [normalize_station_number(s) for s in station_numbers]
        start, end = self.chunk_bounds(DataType.DAILY_MEAN, start, end)
        first_day = start.date() if start == floor_day(start) else start.date() + timedelta(days=1)
        last_day = end.date()
        frames: list[pd.DataFrame] = []
        for station in stations:
            if first_day > last_day:
                continue
            frame = self.wateroffice.daily_discharge(station, first_day, last_day)
            frames.append(self._kept(frame, station, start, end, "daily means", "Water Office daily_data"))
        return _combined(frames)

    def _kept(
        self, frame: pd.DataFrame, station: str, start: datetime, end: datetime, what: str, where: str
    ) -> pd.DataFrame:
        dropped = values_dropped(frame)
        kept = _keep(frame, start, end)
        kept.attrs[VALUES_DROPPED] = dropped
        self.log.info(
            "%s: station %s: %d %s %s → %s from %s",
            SOURCE, station, len(kept), what, start.isoformat(), end.isoformat(), where,
        )
        if dropped:
            self.log.warning(
                "%s: station %s: %d non-finite discharge value(s) (NaN/inf/overflow) dropped from %s",
                SOURCE, station, dropped, where,
            )
        return kept

    def test_connection(self) -> tuple[bool, str]:
        results = [self.datamart.test_connection(), self.wateroffice.test_connection()]
        return all(ok for ok, _ in results), "; ".join(message for _, message in results)


def _combined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    dropped = sum(values_dropped(f) for f in frames)
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_observations(dropped)
    return canonical_observations(pd.concat(frames, ignore_index=True), dropped=dropped)
