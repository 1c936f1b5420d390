"""ECCC payloads → our shapes (pure: text in, frames out; no HTTP).

Datamart station CSVs, the Datamart station list and the two Water Office CSV services (one
table-driven parser, :data:`WATEROFFICE_SERVICES`). The services' spellings (``" ID"``,
``Discharge / Débit (cms)``, ``QA/QC``, ``Approval/Approbation``) stay here. Errors name source,
station, file and line: a malformed body is a :class:`~streamflow.errors.PayloadError`, a body cut
off on the way a :class:`~streamflow.errors.TransientSourceError`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

import pandas as pd

from streamflow.canonical import canonical_observations, clean_text, empty_observations
from streamflow.errors import PayloadError, TransientSourceError, redact_url, short_url
from streamflow.vocabulary import Agency, DataType, Source, Unit

SOURCE = Source.ECCC.value

WATEROFFICE_PARAMETER_DISCHARGE = "47"  # 46 = water level; 47 = discharge (provisional)

# Datamart QA/QC: 1 = preliminary, 2 = reviewed, 3 = checked, 4 = approved.
QA_QC_APPROVAL = {"1": "P", "2": "P", "3": "P", "4": "A"}
# Water Office real-time approval column (English half of "English/Français").
WATEROFFICE_APPROVAL = {"provisional": "P", "approved": "A", "final": "A"}

_SYMBOL = re.compile(r"^[A-Z]{1,3}$")
_CSV_BOM = "\ufeff"


def quality_code(approval: str, symbol: str | None) -> str:
    """Approval state, then the source's symbol when there is one: ``A``, ``A,E``, ``P,B``."""
    return f"{approval},{symbol}" if symbol else approval


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

    def _converted(self, line: int, text: str, convert: Callable[[str], Any], refusal: str) -> Any:
        """``convert(text)``; a ``ValueError`` becomes the file-and-line error ``refusal`` (``{!r}`` = the text)."""
        try:
            return convert(text)
        except ValueError:
            raise self.error(line, refusal.format(text)) from None

    def number(self, line: int, text: str, what: str, *, finite: bool = True) -> float | None:
        """The field as a float, ``None`` when empty. ``finite=False`` lets NaN/±inf through (the
        caller drops and counts them); otherwise a non-finite value is a malformed file."""
        text = text.strip()
        if not text:
            return None
        value = self._converted(line, text, float, f"{what} {{!r}} is not a number")
        if finite and not math.isfinite(value):
            raise self.error(line, f"{what} {text!r} is not a finite number")
        return value

    def instant(self, line: int, text: str) -> datetime:
        text = text.strip()
        value = self._converted(line, text, datetime.fromisoformat, "timestamp {!r} is not ISO 8601")
        if value.tzinfo is None:
            raise self.error(line, f"timestamp {text!r} has no UTC offset")
        return value.astimezone(timezone.utc)

    def day(self, line: int, text: str) -> datetime:
        value = self._converted(line, text.strip(), date.fromisoformat, "date {!r} is not YYYY-MM-DD")
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


def _frame(rows: list[tuple[str, datetime, float, str]], data_type: DataType, dropped: int = 0) -> pd.DataFrame:
    """The canonical frame of ``rows``; ``dropped`` non-finite values travel with it (``values_dropped``)."""
    if not rows:
        return empty_observations(dropped)
    stations, instants, values, codes = zip(*rows, strict=True)
    return canonical_observations(
        dropped=dropped,
        frame=pd.DataFrame(
            {
                "station_number": list(stations),
                "observed_at": list(instants),
                "discharge": list(values),
                "unit": Unit.CMS.value,
                "quality_code": list(codes),
                "data_type": data_type.value,
            }
        ),
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
    dropped = 0
    for line, fields in body.rows():
        station = body.station(line, fields[0])
        observed_at = body.instant(line, fields[1])
        value = body.number(line, fields[discharge], "discharge", finite=False)
        if value is None:
            continue
        if not math.isfinite(value):  # NaN/inf/1e400: dropped and counted, never stored
            dropped += 1
            continue
        qa = fields[qa_col].strip()
        if qa and qa not in QA_QC_APPROVAL:
            raise body.error(line, f"QA/QC {qa!r} is not one of 1, 2, 3, 4")
        # A value without a QA/QC code is not approved: provisional.
        approval = QA_QC_APPROVAL.get(qa, "P")
        rows.append(
            (station, observed_at, value, quality_code(approval, body.symbol(line, fields[symbol_col])))
        )
    return _frame(rows, DataType.REALTIME_15MIN, dropped)


@dataclass(frozen=True)
class WaterOfficeService:
    """How one Water Office CSV service spells its answer (the column spec of :func:`parse_wateroffice_csv`)."""

    what: str  # names the answer in errors
    expected: str  # the header, as shown in errors
    data_type: DataType
    time_column: str  # "instant" (UTC instant) | "day" (a date, 00:00 UTC)
    parameter_ok: Callable[[str], bool]
    parameter_expected: str
    approval_column: str | None  # None: every value is approved (HYDAT)


WATEROFFICE_SERVICES: dict[str, WaterOfficeService] = {
    # real_time_data (parameter 47): " ID,Date,Parameter/Paramètre,Value/Valeur,Qualifier/Qualificatif,
    # Symbol/Symbole,Approval/Approbation,Grade/Classification,Qualifiers/Qualificatifs"; times UTC (Z).
    # A row of another parameter (e.g. 46, water level) is refused rather than stored as discharge.
    "real_time_data": WaterOfficeService(
        what="real_time_data answer",
        expected="' ID,Date,Parameter/Paramètre,Value/Valeur,…,Symbol/Symbole,Approval/Approbation,…'",
        data_type=DataType.REALTIME_15MIN,
        time_column="instant",
        parameter_ok=lambda text: text == WATEROFFICE_PARAMETER_DISCHARGE,
        parameter_expected=f"{WATEROFFICE_PARAMETER_DISCHARGE} (discharge)",
        approval_column="Approval",
    ),
    # daily_data (parameters[]=flow): " ID,Date,Parameter/Paramètre,Value/Valeur,Symbol/Symbole"; rows
    # 08MF005,2023-12-31,discharge/débit,930,E. HYDAT values are approved: quality A plus the day's
    # symbol (A,E = approved, estimated); observed_at = the day at 00:00 UTC.
    "daily_data": WaterOfficeService(
        what="daily_data answer",
        expected="' ID,Date,Parameter/Paramètre,Value/Valeur,Symbol/Symbole'",
        data_type=DataType.DAILY_MEAN,
        time_column="day",
        parameter_ok=lambda text: text.lower().startswith("discharge"),
        parameter_expected="discharge/débit",
        approval_column=None,
    ),
}


def parse_wateroffice_csv(text: str, service: str, *, station_number: str, url: str) -> pd.DataFrame:
    """A Water Office ``real_time_data`` or ``daily_data`` answer -> canonical frame (discharge rows only)."""
    spec = WATEROFFICE_SERVICES[service]
    body = _Csv(text, station_number=station_number, url=url, what=spec.what)
    if len(body.header) < 4 or body.header[0] != "ID" or body.header[1] != "Date":
        raise body.bad_header(spec.expected)
    parameter = body.column("Parameter", spec.expected)
    value_col = body.column("Value", spec.expected)
    symbol_col = body.column("Symbol", spec.expected)
    approval_col = body.column(spec.approval_column, spec.expected) if spec.approval_column else None
    observed = body.instant if spec.time_column == "instant" else body.day

    rows: list[tuple[str, datetime, float, str]] = []
    dropped = 0
    for line, fields in body.rows():
        station = body.station(line, fields[0])
        observed_at = observed(line, fields[1])
        if not spec.parameter_ok(fields[parameter].strip()):
            raise body.error(line, f"parameter {fields[parameter].strip()!r}, expected {spec.parameter_expected}")
        value = body.number(line, fields[value_col], "discharge", finite=False)
        if value is None:
            continue
        if not math.isfinite(value):  # NaN/inf/1e400: dropped and counted, never stored
            dropped += 1
            continue
        approval = "A" if approval_col is None else _wateroffice_approval(body, line, fields[approval_col])
        rows.append((station, observed_at, value, quality_code(approval, body.symbol(line, fields[symbol_col]))))
    return _frame(rows, spec.data_type, dropped)


def _wateroffice_approval(body: _Csv, line: int, text: str) -> str:
    """``Provisional/Provisoire`` -> ``P``; an empty field is provisional too."""
    text = text.strip()
    key = text.split("/", 1)[0].strip().lower()
    if key and key not in WATEROFFICE_APPROVAL:
        raise body.error(line, f"approval {text!r} is neither provisional nor approved")
    return WATEROFFICE_APPROVAL.get(key, "P")


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
            "name": (clean_text(fields[name_col]) or "").strip(),
            "latitude": body.number(line, fields[lat_col], "latitude"),
            "longitude": body.number(line, fields[lon_col], "longitude"),
            "state": fields[prov_col].strip().upper() or None,
            "timezone": fields[tz_col].strip() or None,  # fixed LST offset, e.g. "UTC-08:00"
            "agency": Agency.EC.value,
        }
    return stations


