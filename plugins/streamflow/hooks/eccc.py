"""Environment and Climate Change Canada (ECCC, agency ``EC``): Water Survey of Canada discharge.

Two services, two Airflow connections (DESIGN §3):

* ``eccc_datamart`` (default ``https://dd.weather.gc.ca``), the MSC Datamart: one real-time CSV
  per station, ``/today/hydrometric/csv/{PROV}/{hourly|daily}/{PROV}_{ID}_{freq}_hydrometric.csv``
  (``hourly`` = the last 2 complete days + today, ``daily`` = the last 30 complete days + today,
  5-minute rows in both), and the station list ``/today/hydrometric/doc/hydrometric_StationList.csv``.
  Timestamps are local STANDARD time with a fixed offset (``2023-11-04T00:00:00-08:00``, never DST).
* ``eccc_wateroffice`` (default ``https://wateroffice.ec.gc.ca``), the Water Office web services:
  ``/services/real_time_data/csv/inline`` (provisional real-time values, UTC, parameter 47 =
  discharge, 46 = level; about 18 months kept) and ``/services/daily_data/csv/inline`` (HYDAT daily
  means, approved, with a symbol per day).

:class:`EcccHook` is what the operators call. It picks the service per part of the window
(:func:`plan_instantaneous_requests`): the Datamart serves everything from the *seam* on (00:00 UTC
of the day 29 days before today, UTC), the Water Office everything before it, split into requests
of at most :data:`WATEROFFICE_REALTIME_MAX_SPAN`. Each instant therefore comes from exactly one
service: no duplicates and no gaps at the seam. ``docs/sources.md`` (ECCC section) explains the
rules a hydrologist will ask about: time zones, units, quality codes, symbols and limits.

The services' spellings (``" ID"``, ``Discharge / Débit (cms)``, ``QA/QC``, ``stations[]``,
``Approval/Approbation``) stay in this module; callers get the canonical observation frame.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
from airflow.sdk import BaseHook

from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    PermanentSourceError,
    StationNotFoundError,
    TransientSourceError,
    redact_url,
    short_url,
)
from streamflow.canonical import canonical_observations, empty_observations
from streamflow.hooks.base import StreamflowHttpHook
from streamflow.vocabulary import Agency, DataType, Source, Unit

SOURCE = Source.ECCC.value

DATAMART_STATION_LIST_PATH = "/today/hydrometric/doc/hydrometric_StationList.csv"
DATAMART_CSV_PATH = (
    "/today/hydrometric/csv/{province}/{frequency}/{province}_{station}_{frequency}_hydrometric.csv"
)
WATEROFFICE_REALTIME_PATH = "/services/real_time_data/csv/inline"
WATEROFFICE_DAILY_PATH = "/services/daily_data/csv/inline"

WATEROFFICE_PARAMETER_DISCHARGE = "47"  # 46 = water level; 47 = discharge (provisional)

# The seam between the services: the Datamart "daily" file holds the last 30 complete days in
# local standard time. 00:00 UTC of (today UTC - 29 days) is at least 16 h inside that for every
# Canadian offset (UTC-03:30 .. UTC-08:00), even when the file is an hour stale.
DATAMART_DAYS = 29
# The "hourly" file (2 complete days + today) is used when the Datamart part starts within this.
DATAMART_HOURLY_MAX_AGE = timedelta(hours=36)
# Longest closed interval [start_date, end_date] of one real_time_data request. The service's limit
# depends on the number of values asked for ("if one station is requested, 18 months of data can be
# requested"); one station x one parameter x 90 days is ~26,000 5-minute values (~1.5 MB).
WATEROFFICE_REALTIME_MAX_SPAN = timedelta(days=90)
# real_time_data keeps about 18 months; older instantaneous values exist nowhere online (HYDAT has
# daily means only), so requests for them are not sent. A few weeks of margin on the 18 months.
WATEROFFICE_REALTIME_RETENTION = timedelta(days=570)
# daily_data has no documented limit; ~10 years (3,653 values) keeps answers and write
# transactions small.
WATEROFFICE_DAILY_MAX_SPAN = timedelta(days=3653)

# Datamart QA/QC: 1 = preliminary, 2 = reviewed, 3 = checked, 4 = approved.
QA_QC_APPROVAL = {"1": "P", "2": "P", "3": "P", "4": "A"}
# Water Office real-time approval column (English half of "English/Français").
WATEROFFICE_APPROVAL = {"provisional": "P", "approved": "A", "final": "A"}

_STATION_NUMBER = re.compile(r"^\d{2}[A-Z]{2}\d{3}$")
_SYMBOL = re.compile(r"^[A-Z]{1,3}$")
_CSV_BOM = "\ufeff"


# --------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------


def _aware_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ConfigurationError(f"{name} must be a datetime, got {type(value).__name__}", source=SOURCE)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(
            f"{name} {value.isoformat()} is naive; pass a timezone-aware time", source=SOURCE
        )
    return value.astimezone(timezone.utc)


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _floor_day(value: datetime) -> datetime:
    return datetime.combine(value.astimezone(timezone.utc).date(), time(0), tzinfo=timezone.utc)


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


def quality_code(approval: str, symbol: str | None) -> str:
    """Approval state, then the source's symbol when there is one: ``A``, ``A,E``, ``P,B``."""
    return f"{approval},{symbol}" if symbol else approval


def datamart_seam(now: datetime) -> datetime:
    """First instant served by the Datamart: 00:00 UTC of the UTC day 29 days before ``now``."""
    return _floor_day(now) - timedelta(days=DATAMART_DAYS)


@dataclass(frozen=True)
class RequestWindow:
    """One request of :meth:`EcccHook.get_instantaneous`: a closed interval ``[start, end]`` (UTC).

    Values are kept only when ``start <= observed_at <= end``; consecutive windows are disjoint
    (the next starts one second after this one ends, at whole seconds), so every instant
    belongs to exactly one window.
    """

    service: str  # "wateroffice" | "datamart"
    start: datetime
    end: datetime
    frequency: str | None = None  # datamart file: "hourly" | "daily"


def plan_instantaneous_requests(start: datetime, end: datetime, *, now: datetime) -> list[RequestWindow]:
    """Split ``[start, end]`` between the Water Office (before the seam) and the Datamart (from it).

    * seam = :func:`datamart_seam` (``now``); the Water Office part ends one second before it.
    * The Water Office part is clamped to :data:`WATEROFFICE_REALTIME_RETENTION` before ``now`` and
      cut into closed windows of at most :data:`WATEROFFICE_REALTIME_MAX_SPAN` (oldest first).
    * The Datamart part is one file: ``hourly`` when it starts within
      :data:`DATAMART_HOURLY_MAX_AGE` of ``now``, else ``daily``.
    """
    start = _aware_utc(start, "start")
    end = _aware_utc(end, "end")
    now = _aware_utc(now, "now")
    if start > end:
        raise ConfigurationError(f"start {start.isoformat()} is after end {end.isoformat()}", source=SOURCE)
    seam = datamart_seam(now)
    first = _floor_second(start)
    last = _floor_second(end)
    windows: list[RequestWindow] = []

    wo_first = max(first, _floor_day(now - WATEROFFICE_REALTIME_RETENTION))
    wo_last = min(last, seam - timedelta(seconds=1))
    chunk_start = wo_first
    while chunk_start <= wo_last:
        # A rest of at most the limit goes in one request (so a planner chunk of exactly
        # max_chunk is one request); otherwise [a, a + limit - 1 s], and the next starts at a + limit.
        if wo_last - chunk_start <= WATEROFFICE_REALTIME_MAX_SPAN:
            chunk_end = wo_last
        else:
            chunk_end = chunk_start + WATEROFFICE_REALTIME_MAX_SPAN - timedelta(seconds=1)
        windows.append(
            RequestWindow(
                "wateroffice",
                start if chunk_start == first else chunk_start,
                end if chunk_end == last else chunk_end,
            )
        )
        chunk_start = chunk_end + timedelta(seconds=1)

    dm_first = max(first, seam)
    if dm_first <= last:
        frequency = "hourly" if dm_first >= now - DATAMART_HOURLY_MAX_AGE else "daily"
        windows.append(RequestWindow("datamart", start if dm_first == first else dm_first, end, frequency))
    return windows


# --------------------------------------------------------------------------------------------
# CSV parsing (pure: text in, rows out; errors name source, station, file and line)
# --------------------------------------------------------------------------------------------


class _Csv:
    """A decoded CSV body with its header cleaned (BOM, leading spaces) and rows numbered."""

    def __init__(self, text: str, *, station_number: str | None, url: str, what: str) -> None:
        self.station_number = station_number
        self.url = url
        self.where = short_url(redact_url(url))
        self.what = what
        self.ends_with_newline = text.endswith(("\n", "\r"))
        text = text.lstrip(_CSV_BOM)
        if not text.strip():
            # A 200 with not even the header line: the body was cut off on the way.
            raise TransientSourceError(
                f"empty {what} response, not even the CSV header ({self.where})",
                source=SOURCE,
                station_number=station_number,
                url=url,
            )
        self._reader = csv.reader(io.StringIO(text, newline=""))
        try:
            raw_header = next(self._reader)
        except csv.Error as exc:
            raise self.error(1, f"header does not parse as CSV: {exc}") from exc
        self.header = [name.strip().lstrip(_CSV_BOM).strip() for name in raw_header]

    def error(self, line: int, message: str) -> PayloadError:
        return PayloadError(
            f"{self.what} {self.where} line {line}: {message}",
            source=SOURCE,
            station_number=self.station_number,
            url=self.url,
        )

    def bad_header(self, expected: str) -> PayloadError:
        shown = ",".join(self.header)[:200]
        return self.error(1, f"unexpected header {shown!r} (expected {expected})")

    def column(self, prefix: str, expected: str) -> int:
        for index, name in enumerate(self.header):
            if name.lower().startswith(prefix.lower()):
                return index
        raise self.bad_header(expected)

    def rows(self):
        """``(line_number, fields)`` for each non-empty row; a short last row means a cut-off body."""
        width = len(self.header)
        # Each row is held back one step: a short row is a malformed file, unless it is the last
        # one and the body does not end with a line break (then the body was cut off).
        pending: tuple[int, list[str]] | None = None
        try:
            for fields in self._reader:
                line = self._reader.line_num
                if not fields or all(not f.strip() for f in fields):
                    continue
                if len(fields) > width:
                    raise self.error(line, f"{len(fields)} fields, the header has {width}")
                if pending is not None:
                    if len(pending[1]) < width:
                        raise self.error(pending[0], f"{len(pending[1])} fields, the header has {width}")
                    yield pending
                pending = (line, fields)
        except csv.Error as exc:
            raise self.error(self._reader.line_num, f"does not parse as CSV: {exc}") from exc
        if pending is not None:
            line, fields = pending
            if len(fields) < width:
                if not self.ends_with_newline:
                    raise TransientSourceError(
                        f"{self.what} {self.where} ends in the middle of line {line} "
                        f"({len(fields)} of {width} fields): truncated response",
                        source=SOURCE,
                        station_number=self.station_number,
                        url=self.url,
                    )
                raise self.error(line, f"{len(fields)} fields, the header has {width}")
            yield pending

    def number(self, line: int, text: str, what: str) -> float | None:
        text = text.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise self.error(line, f"{what} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise self.error(line, f"{what} {text!r} is not a finite number")
        return value

    def instant(self, line: int, text: str) -> datetime:
        text = text.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise self.error(line, f"timestamp {text!r} is not ISO 8601") from None
        if value.tzinfo is None:
            raise self.error(line, f"timestamp {text!r} has no UTC offset")
        return value.astimezone(timezone.utc)

    def day(self, line: int, text: str) -> datetime:
        text = text.strip()
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise self.error(line, f"date {text!r} is not YYYY-MM-DD") from None
        return datetime.combine(value, time(0), tzinfo=timezone.utc)

    def station(self, line: int, text: str) -> str:
        station = text.strip().upper()
        if self.station_number is not None and station != self.station_number:
            raise self.error(line, f"row is for station {station!r}, not the requested one")
        return station

    def symbol(self, line: int, text: str) -> str | None:
        text = text.strip().upper()
        if not text:
            return None
        if not _SYMBOL.match(text):
            raise self.error(line, f"symbol {text!r} is not a data symbol (A, B, D, E, ...)")
        return text


def _frame(rows: list[tuple[str, datetime, float, str]], data_type: DataType) -> pd.DataFrame:
    if not rows:
        return empty_observations()
    stations, instants, values, codes = zip(*rows, strict=True)
    return canonical_observations(
        pd.DataFrame(
            {
                "station_number": list(stations),
                "observed_at": list(instants),
                "discharge": list(values),
                "unit": Unit.CMS.value,
                "quality_code": list(codes),
                "data_type": data_type.value,
            }
        )
    )


def parse_datamart_csv(text: str, *, station_number: str, url: str) -> pd.DataFrame:
    """A Datamart station CSV -> canonical ``realtime_15min`` frame (discharge rows only).

    Header ``" ID,Date,Water Level / Niveau d'eau (m),Grade,Symbol / Symbole,QA/QC,Discharge /
    Débit (cms),Grade,Symbol / Symbole,QA/QC"``: Grade/Symbol/QA/QC appear twice, so the discharge
    ones are taken by position after ``Discharge``. Rows without a discharge value (level-only
    stations) are skipped. Times are LST with an offset and come out as UTC instants.
    """
    expected = "' ID,Date,Water Level …,Discharge / Débit (cms),Grade,Symbol / Symbole,QA/QC'"
    body = _Csv(text, station_number=station_number, url=url, what="Datamart file")
    header = body.header
    if len(header) < 6 or header[0] != "ID" or header[1] != "Date":
        raise body.bad_header(expected)
    discharge = next((i for i, name in enumerate(header) if name.lower().startswith("discharge")), None)
    if (
        discharge is None
        or discharge + 3 >= len(header)
        or not header[discharge + 1].lower().startswith("grade")
        or not header[discharge + 2].lower().startswith("symbol")
        or header[discharge + 3].upper() != "QA/QC"
    ):
        raise body.bad_header(expected)
    if "(cms)" not in header[discharge].lower():
        raise body.error(1, f"discharge column {header[discharge]!r} is not in cms (m³/s)")
    symbol_col, qa_col = discharge + 2, discharge + 3

    rows: list[tuple[str, datetime, float, str]] = []
    for line, fields in body.rows():
        station = body.station(line, fields[0])
        observed_at = body.instant(line, fields[1])
        value = body.number(line, fields[discharge], "discharge")
        if value is None:
            continue
        qa = fields[qa_col].strip()
        if qa and qa not in QA_QC_APPROVAL:
            raise body.error(line, f"QA/QC {qa!r} is not one of 1, 2, 3, 4")
        # A value without a QA/QC code is not approved: provisional.
        approval = QA_QC_APPROVAL.get(qa, "P")
        rows.append(
            (station, observed_at, value, quality_code(approval, body.symbol(line, fields[symbol_col])))
        )
    return _frame(rows, DataType.REALTIME_15MIN)


def parse_wateroffice_realtime_csv(text: str, *, station_number: str, url: str) -> pd.DataFrame:
    """A ``real_time_data`` answer (parameter 47) -> canonical ``realtime_15min`` frame.

    Header ``" ID,Date,Parameter/Paramètre,Value/Valeur,Qualifier/Qualificatif,Symbol/Symbole,
    Approval/Approbation,Grade/Classification,Qualifiers/Qualificatifs"``; times are UTC (``Z``).
    A row of another parameter (e.g. 46, water level) is refused rather than stored as discharge.
    """
    expected = "' ID,Date,Parameter/Paramètre,Value/Valeur,…,Symbol/Symbole,Approval/Approbation,…'"
    body = _Csv(text, station_number=station_number, url=url, what="real_time_data answer")
    if len(body.header) < 4 or body.header[0] != "ID" or body.header[1] != "Date":
        raise body.bad_header(expected)
    parameter = body.column("Parameter", expected)
    value_col = body.column("Value", expected)
    symbol_col = body.column("Symbol", expected)
    approval_col = body.column("Approval", expected)

    rows: list[tuple[str, datetime, float, str]] = []
    for line, fields in body.rows():
        station = body.station(line, fields[0])
        observed_at = body.instant(line, fields[1])
        if fields[parameter].strip() != WATEROFFICE_PARAMETER_DISCHARGE:
            raise body.error(
                line,
                f"parameter {fields[parameter].strip()!r}, "
                f"expected {WATEROFFICE_PARAMETER_DISCHARGE} (discharge)",
            )
        value = body.number(line, fields[value_col], "discharge")
        if value is None:
            continue
        approval_text = fields[approval_col].strip()
        key = approval_text.split("/", 1)[0].strip().lower()
        if key and key not in WATEROFFICE_APPROVAL:
            raise body.error(line, f"approval {approval_text!r} is neither provisional nor approved")
        approval = WATEROFFICE_APPROVAL.get(key, "P")
        rows.append(
            (station, observed_at, value, quality_code(approval, body.symbol(line, fields[symbol_col])))
        )
    return _frame(rows, DataType.REALTIME_15MIN)


def parse_wateroffice_daily_csv(text: str, *, station_number: str, url: str) -> pd.DataFrame:
    """A ``daily_data`` answer (``parameters[]=flow``) -> canonical ``daily_mean`` frame.

    Header ``" ID,Date,Parameter/Paramètre,Value/Valeur,Symbol/Symbole"``; rows
    ``08MF005,2023-12-31,discharge/débit,930,E``. HYDAT values are approved: quality ``A``, plus the
    day's symbol (``A,E`` = approved, estimated). ``observed_at`` = the day at 00:00 UTC.
    """
    expected = "' ID,Date,Parameter/Paramètre,Value/Valeur,Symbol/Symbole'"
    body = _Csv(text, station_number=station_number, url=url, what="daily_data answer")
    if len(body.header) < 4 or body.header[0] != "ID" or body.header[1] != "Date":
        raise body.bad_header(expected)
    parameter = body.column("Parameter", expected)
    value_col = body.column("Value", expected)
    symbol_col = body.column("Symbol", expected)

    rows: list[tuple[str, datetime, float, str]] = []
    for line, fields in body.rows():
        station = body.station(line, fields[0])
        observed_at = body.day(line, fields[1])
        if not fields[parameter].strip().lower().startswith("discharge"):
            raise body.error(line, f"parameter {fields[parameter].strip()!r}, expected discharge/débit")
        value = body.number(line, fields[value_col], "discharge")
        if value is None:
            continue
        rows.append((station, observed_at, value, quality_code("A", body.symbol(line, fields[symbol_col]))))
    return _frame(rows, DataType.DAILY_MEAN)


def parse_station_list(
    text: str, *, url: str, station_number: str | None = None
) -> dict[str, dict[str, Any]]:
    """The Datamart station list -> ``{station_number: metadata}`` (:meth:`EcccHook.get_station_metadata`).

    Header ``ID,Name / Nom,Latitude,Longitude,Prov/Terr,Timezone / Fuseau horaire``; names are
    quoted (they contain commas); the file starts with a UTF-8 BOM.
    """
    expected = "'ID,Name / Nom,Latitude,Longitude,Prov/Terr,Timezone / Fuseau horaire'"
    body = _Csv(text, station_number=station_number, url=url, what="station list")
    if not body.header or body.header[0] != "ID":
        raise body.bad_header(expected)
    name_col = body.column("Name", expected)
    lat_col = body.column("Latitude", expected)
    lon_col = body.column("Longitude", expected)
    prov_col = body.column("Prov", expected)
    tz_col = body.column("Timezone", expected)

    stations: dict[str, dict[str, Any]] = {}
    for line, fields in body.rows():
        number = fields[0].strip().upper()
        if not number:
            raise body.error(line, "empty station ID")
        stations[number] = {
            "station_number": number,
            "name": fields[name_col].strip(),
            "latitude": body.number(line, fields[lat_col], "latitude"),
            "longitude": body.number(line, fields[lon_col], "longitude"),
            "state": fields[prov_col].strip().upper() or None,
            "timezone": fields[tz_col].strip() or None,  # fixed LST offset, e.g. "UTC-08:00"
            "agency": Agency.EC.value,
        }
    return stations


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
    hook_name = "ECCC MSC Datamart"
    default_host = "https://dd.weather.gc.ca"

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
            raise ValueError(f"Datamart frequency must be 'hourly' or 'daily', not {frequency!r}")
        path = DATAMART_CSV_PATH.format(province=province, station=station_number, frequency=frequency)
        text = self.get_text(path, station_number=station_number)
        return parse_datamart_csv(text, station_number=station_number, url=self.url(path))


class EcccWaterOfficeHook(_EcccHttpHook):
    """Water Office web services (``wateroffice.ec.gc.ca``): real_time_data and daily_data."""

    default_conn_name = "eccc_wateroffice"
    conn_type = "streamflow_eccc_wateroffice"
    hook_name = "ECCC Water Office web services"
    default_host = "https://wateroffice.ec.gc.ca"

    @staticmethod
    def _query(pairs: list[tuple[str, str]]) -> str:
        # Spelled like the service's own examples: stations[]=08MF005&start_date=2025-10-22%2000:00:00
        return urlencode(pairs, quote_via=quote, safe="[]:")

    def realtime_discharge(self, station_number: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Discharge (parameter 47) in the closed UTC interval ``[start, end]``; one request."""
        start = _floor_second(_aware_utc(start, "start"))
        end = _floor_second(_aware_utc(end, "end"))
        if end - start > WATEROFFICE_REALTIME_MAX_SPAN:
            raise ValueError(f"real_time_data window {start} → {end} exceeds {WATEROFFICE_REALTIME_MAX_SPAN}")
        params = self._query(
            [
                ("stations[]", station_number),
                ("parameters[]", WATEROFFICE_PARAMETER_DISCHARGE),
                ("start_date", start.strftime("%Y-%m-%d %H:%M:%S")),
                ("end_date", end.strftime("%Y-%m-%d %H:%M:%S")),
            ]
        )
        text = self.get_text(WATEROFFICE_REALTIME_PATH, station_number=station_number, params=params)
        return parse_wateroffice_realtime_csv(
            text, station_number=station_number, url=self.url(WATEROFFICE_REALTIME_PATH)
        )

    def daily_discharge(self, station_number: str, first_day: date, last_day: date) -> pd.DataFrame:
        """HYDAT daily mean discharge for the days ``first_day`` .. ``last_day`` (inclusive); one request."""
        if last_day - first_day > WATEROFFICE_DAILY_MAX_SPAN:
            raise ValueError(
                f"daily_data window {first_day} → {last_day} exceeds {WATEROFFICE_DAILY_MAX_SPAN}"
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
        return parse_wateroffice_daily_csv(
            text, station_number=station_number, url=self.url(WATEROFFICE_DAILY_PATH)
        )


# --------------------------------------------------------------------------------------------
# The facade the operators call
# --------------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class EcccHook(BaseHook):
    """ECCC discharge for the operators: one call per data type, the services chosen inside.

    ``now`` (a callable returning an aware datetime) fixes the clock that places the Datamart
    seam; only tests pass it.
    """

    hook_name = "ECCC (Datamart + Water Office)"

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
        self._now = now or _utc_now

    @cached_property
    def datamart(self) -> EcccDatamartHook:
        return EcccDatamartHook(self.datamart_conn_id, timeout=self._timeout)

    @cached_property
    def wateroffice(self) -> EcccWaterOfficeHook:
        return EcccWaterOfficeHook(self.wateroffice_conn_id, timeout=self._timeout)

    def max_chunk(self, data_type: DataType | str) -> timedelta:
        """The longest window (end - start) one request covers; the planner chunks by it."""
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

        ``realtime_15min``: ~18 months back (:data:`WATEROFFICE_REALTIME_RETENTION`, the same bound
        :func:`plan_instantaneous_requests` applies); ``daily_mean``: ``None`` (HYDAT goes back to
        each station's first year).
        """
        self.max_chunk(data_type)  # refuses data types this hook does not serve
        if DataType(data_type) == DataType.REALTIME_15MIN:
            return _floor_day(_aware_utc(now, "now") - WATEROFFICE_REALTIME_RETENTION)
        return None

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

        The window is split by :func:`plan_instantaneous_requests`: Water Office ``real_time_data``
        before the Datamart seam (in chunks of at most :data:`WATEROFFICE_REALTIME_MAX_SPAN`), the
        Datamart file from the seam on. ``provinces`` (station -> ``BC``, ``YT`` ...) names the
        Datamart folder; stations missing from it are looked up in the Datamart station list.
        """
        stations = [normalize_station_number(s) for s in station_numbers]
        now = _aware_utc(self._now(), "now")
        windows = plan_instantaneous_requests(start, end, now=now)
        frames: list[pd.DataFrame] = []
        for station in stations:
            for window in windows:
                if window.service == "wateroffice":
                    frame = self.wateroffice.realtime_discharge(station, window.start, window.end)
                    where = "Water Office real_time_data"
                else:
                    province = self._province(station, provinces)
                    frame = self.datamart.realtime_discharge(station, province, window.frequency or "daily")
                    where = f"Datamart {province} {window.frequency} file"
                kept = _keep(frame, window.start, window.end)
                self.log.info(
                    "%s: station %s: %d discharge values %s → %s from %s",
                    SOURCE,
                    station,
                    len(kept),
                    window.start.isoformat(),
                    window.end.isoformat(),
                    where,
                )
                frames.append(kept)
            if not windows:
                self.log.info(
                    "%s: station %s: window %s → %s is older than the ~18 months of real-time data kept",
                    SOURCE,
                    station,
                    _aware_utc(start, "start").isoformat(),
                    _aware_utc(end, "end").isoformat(),
                )
        frames = [f for f in frames if not f.empty]
        if not frames:
            return empty_observations()
        return canonical_observations(pd.concat(frames, ignore_index=True))

    def get_daily_means(self, station_numbers: Sequence[str], start: datetime, end: datetime) -> pd.DataFrame:
        """HYDAT daily mean discharge (cms, ``daily_mean``) for the days whose 00:00 UTC lies in
        ``[start, end]``; days are the station's local-standard-time days as HYDAT reports them."""
        stations = [normalize_station_number(s) for s in station_numbers]
        start = _aware_utc(start, "start")
        end = _aware_utc(end, "end")
        if start > end:
            raise ConfigurationError(
                f"start {start.isoformat()} is after end {end.isoformat()}", source=SOURCE
            )
        first_day = start.date() if start == _floor_day(start) else start.date() + timedelta(days=1)
        last_day = end.date()
        frames: list[pd.DataFrame] = []
        for station in stations:
            chunk_first = first_day
            while chunk_first <= last_day:
                chunk_last = min(chunk_first + WATEROFFICE_DAILY_MAX_SPAN, last_day)
                frame = self.wateroffice.daily_discharge(station, chunk_first, chunk_last)
                kept = _keep(frame, start, end)
                self.log.info(
                    "%s: station %s: %d daily means %s → %s from Water Office daily_data",
                    SOURCE,
                    station,
                    len(kept),
                    chunk_first.isoformat(),
                    chunk_last.isoformat(),
                )
                frames.append(kept)
                chunk_first = chunk_last + timedelta(days=1)
        frames = [f for f in frames if not f.empty]
        if not frames:
            return empty_observations()
        return canonical_observations(pd.concat(frames, ignore_index=True))

    def test_connection(self) -> tuple[bool, str]:
        results = [self.datamart.test_connection(), self.wateroffice.test_connection()]
        return all(ok for ok, _ in results), "; ".join(message for _, message in results)
