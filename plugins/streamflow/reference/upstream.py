"""Parsers of the upstream files kept in ``data/upstream`` (provenance in ``data/upstream/README.md``).

NOAA's HADS listing, NOAA's NWPS gauge report, the NWIS current-streamflow sites RDB and ECCC's
hydrometric station list. Each parser checks the layout it relies on (a changed layout raises
:class:`ReferenceDataError`); an unusable row is skipped and reported (in the build report, or
logged for the NWPS report) instead of stopping the build.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streamflow.errors import ReferenceDataError
from streamflow.vocabulary import Agency

if TYPE_CHECKING:
    from streamflow.reference.build import BuildReport

log = logging.getLogger(__name__)

# Upstream files (data/upstream/README.md). Each may be stored gzipped as ``<name>.gz``.
HADS_LISTING = "ALL_USGS-HADS_SITES.txt"
NWPS_REPORT = "nwps_all_gauges_report.csv"
NWIS_SITES = "peckhams_NWIS_Current_Streamflow_Site_Data.rdb.tsv"
EC_STATION_LIST = "snowsky_hydrometric_StationList_2015.csv"

NWS_LID = re.compile(r"^[A-Z][A-Z0-9]{3}[0-9]$")  # NWS location id (SHEF id), e.g. ANAW1, R01N5
USGS_SITE = re.compile(r"^[0-9]{8,15}$")
WSC_STATION = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{3}$")
CANADIAN_LID = re.compile(r"^[A-Z]{3}Q[0-9]$")

# NWIS state_cd (FIPS) → USPS code, for sites in the United States and its territories.
FIPS_TO_POSTAL = {
    "01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO", "09": "CT", "10": "DE",
    "11": "DC", "12": "FL", "13": "GA", "15": "HI", "16": "ID", "17": "IL", "18": "IN", "19": "IA",
    "20": "KS", "21": "KY", "22": "LA", "23": "ME", "24": "MD", "25": "MA", "26": "MI", "27": "MN",
    "28": "MS", "29": "MO", "30": "MT", "31": "NE", "32": "NV", "33": "NH", "34": "NJ", "35": "NM",
    "36": "NY", "37": "NC", "38": "ND", "39": "OH", "40": "OK", "41": "OR", "42": "PA", "44": "RI",
    "45": "SC", "46": "SD", "47": "TN", "48": "TX", "49": "UT", "50": "VT", "51": "VA", "53": "WA",
    "54": "WV", "55": "WI", "56": "WY", "60": "AS", "66": "GU", "69": "MP", "72": "PR", "78": "VI",
}  # fmt: skip


@dataclass(frozen=True)
class HadsRow:
    line: int
    lid: str
    usgs_id: str
    name: str


@dataclass(frozen=True)
class NwpsPoint:
    line: int
    lid: str
    name: str
    usgs_raw: str
    latitude: str
    longitude: str
    state: str
    in_service: str
    attribution: str


@dataclass(frozen=True)
class EcStation:
    station_number: str
    name: str
    latitude: float
    longitude: float
    prov_terr: str
    latitude_text: str
    longitude_text: str


def read_upstream_text(upstream_dir: Path, name: str) -> str:
    """The text of an upstream file, read from ``name`` or, when only that exists, ``name.gz``.

    A UTF-8 byte-order mark is dropped; line ends are left as they are (csv copes with CRLF).
    """
    path = upstream_dir / name
    gz = upstream_dir / f"{name}.gz"
    if path.exists():
        raw = path.read_bytes()
    elif gz.exists():
        raw = gzip.decompress(gz.read_bytes())
    else:
        raise ReferenceDataError(f"upstream file {name} (or {name}.gz) not found in {upstream_dir}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(f"upstream file {name} is not UTF-8: {exc}") from exc


def _number_text(value: str) -> str:
    """A number as the upstream wrote it, normalised (``' 290.'`` → ``290``); ``''`` stays empty."""
    value = value.strip()
    if not value:
        return ""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    text = repr(number)
    return text[:-2] if text.endswith(".0") else text


def parse_hads_listing(text: str, report: BuildReport) -> list[HadsRow]:
    """NOAA's ``ALL_USGS-HADS_SITES.txt``: 4 header lines, then fixed-width pipe-delimited rows
    ``NWSLI|USGS number|GOES id|HSA|lat|lon|name``. USGS numbers are kept as text (leading zeros)."""
    lines = text.splitlines()
    if len(lines) < 4 or not lines[3].startswith("-----") or "STATION" not in lines[1]:
        raise ReferenceDataError(
            f"{HADS_LISTING}: the 4-line header is not where it used to be; the layout changed"
        )
    rows: list[HadsRow] = []
    for number, line in enumerate(lines[4:], start=5):
        if not line.strip():
            continue
        report.hads_rows_read += 1
        fields = line.split("|")
        lid = fields[0].strip() if fields else ""
        usgs = fields[1].strip() if len(fields) > 1 else ""
        if len(fields) != 7 or not NWS_LID.match(lid) or not USGS_SITE.match(usgs):
            report.hads_bad_rows += 1
            report.warnings.append(f"{HADS_LISTING} line {number}: not a usable row: {line.strip()[:80]!r}")
            continue
        rows.append(HadsRow(number, lid, usgs, fields[6].strip()))
    return rows


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def parse_nwps_report(text: str) -> list[NwpsPoint]:
    """NOAA's ``nwps_all_gauges_report.csv`` (40 columns). ``usgs id`` lost its leading zeros."""
    rows = _csv_rows(text)
    if not rows:
        raise ReferenceDataError(f"{NWPS_REPORT}: empty file")
    header = [h.strip() for h in rows[0]]
    wanted = ("nws shef id", "location name", "usgs id", "latitude", "longitude", "state", "in service",
              "attribution wording")  # fmt: skip
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ReferenceDataError(f"{NWPS_REPORT}: columns {missing} not in the header")
    nwm_like = [c for c in header if re.search(r"reach|nwm|feature", c, re.IGNORECASE)]
    if nwm_like:
        log.warning(
            "%s has columns %s that may hold NWM reach ids; they are not used yet", NWPS_REPORT, nwm_like
        )
    idx = {c: header.index(c) for c in wanted}
    points = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            log.warning(
                "%s line %d: %d columns instead of %d; skipped", NWPS_REPORT, number, len(row), len(header)
            )
            continue
        v = {c: row[i].strip() for c, i in idx.items()}
        points.append(
            NwpsPoint(number, v["nws shef id"], v["location name"], v["usgs id"], v["latitude"],
                       v["longitude"], v["state"], v["in service"], v["attribution wording"])
        )  # fmt: skip
    return points


def parse_nwis_sites(text: str, report: BuildReport) -> list[tuple[str, ...]]:
    """The NWIS "expanded site file" RDB of current streamflow sites → master station rows.

    The ``#`` comment header was removed upstream; comment lines are skipped anyway. Row 1 names
    the columns, row 2 gives their formats (``5s 15s …``). ``state_cd`` is a FIPS code."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) < 2:
        raise ReferenceDataError(f"{NWIS_SITES}: no column-name and format rows")
    header = lines[0].split("\t")
    wanted = ("site_no", "station_nm", "dec_lat_va", "dec_long_va", "state_cd", "country_cd", "huc_cd",
              "alt_va", "drain_area_va")  # fmt: skip
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ReferenceDataError(f"{NWIS_SITES}: columns {missing} not in the header")
    idx = {c: header.index(c) for c in wanted}
    out = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split("\t")
        if len(fields) != len(header):
            report.warnings.append(
                f"{NWIS_SITES} row {number}: {len(fields)} fields instead of {len(header)}; skipped"
            )
            continue
        v = {c: fields[i].strip() for c, i in idx.items()}
        site = v["site_no"]
        if not USGS_SITE.match(site):
            report.warnings.append(
                f"{NWIS_SITES} row {number}: site_no {site!r} is not a USGS site number; skipped"
            )
            continue
        state = ""
        if v["country_cd"] in ("US", ""):
            state = FIPS_TO_POSTAL.get(v["state_cd"], "")
        if not state:
            report.warnings.append(
                f"{NWIS_SITES}: site {site}: no US state for state_cd {v['state_cd']!r} "
                f"(country {v['country_cd']!r}); state_code left empty"
            )
        try:
            latitude, longitude = _number_text(v["dec_lat_va"]), _number_text(v["dec_long_va"])
            altitude, drainage = _number_text(v["alt_va"]), _number_text(v["drain_area_va"])
        except ValueError as exc:
            report.warnings.append(f"{NWIS_SITES} row {number}: site {site}: {exc}; skipped")
            continue
        out.append(
            (
                site,
                v["station_nm"],
                latitude,
                longitude,
                state,
                v["huc_cd"],
                altitude,
                drainage,
                Agency.USGS.value,
            )
        )
    return out


def parse_ec_station_list(text: str, report: BuildReport) -> list[EcStation]:
    """ECCC's ``hydrometric_StationList.csv``: ``ID,Name / Nom,Latitude,Longitude,Prov/Terr,Timezone``.

    The header's ``ID`` may carry a BOM or a leading space; both are ignored."""
    rows = _csv_rows(text)
    if not rows or [h.strip() for h in rows[0][:5]] != [
        "ID",
        "Name / Nom",
        "Latitude",
        "Longitude",
        "Prov/Terr",
    ]:
        raise ReferenceDataError(f"{EC_STATION_LIST}: unexpected header {rows[0] if rows else None!r}")
    stations = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        station = row[0].strip()
        if len(row) < 5 or not WSC_STATION.match(station):
            report.warnings.append(f"{EC_STATION_LIST} line {number}: not a station row; skipped")
            continue
        try:
            lat_text, lon_text = _number_text(row[2]), _number_text(row[3])
            latitude, longitude = float(lat_text), float(lon_text)
        except ValueError:
            report.warnings.append(
                f"{EC_STATION_LIST} line {number}: station {station}: bad coordinates; skipped"
            )
            continue
        stations.append(
            EcStation(station, row[1].strip(), latitude, longitude, row[4].strip(), lat_text, lon_text)
        )
    return stations
