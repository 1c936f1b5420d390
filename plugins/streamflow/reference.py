"""Reference data: station id mappings and the master station list (DESIGN §4, "Reference data").

Two steps, kept apart:

* :func:`build_reference` is pure file work. It reads the upstream files kept in ``data/upstream``
  (provenance in ``data/upstream/README.md``) and writes the CSVs the database is loaded from::

      data/hads_id_mappings.csv   source_agency,source_id,target_agency,target_id
      data/master_stations.csv    station_number,station_name,latitude,longitude,state_code,
                                  huc_code,altitude_ft,drainage_area_sqmi,agency

  plus two files a person reviews: ``data/ec_nwps_matches.csv`` (every Canadian point NWPS serves,
  with the WSC station it was matched to or why not) and ``data/hads_id_conflicts.csv`` (every
  USGS number the sources give more than one NWS location id for, and which one was kept).
  Output is sorted and formatted deterministically: a rebuild gives the same bytes.
  Rebuild with ``python -m streamflow.reference build``.

* :func:`load_reference` upserts both CSVs into ``station_mappings`` and ``master_stations`` in
  batches with the dialect's native ``INSERT … ON CONFLICT`` (the caller commits). Bad rows are
  reported with file name and line number and skipped; re-running changes nothing.

Station search lives in ``streamflow.db.stations``.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import gzip
import io
import logging
import math
import os
import re
import sys
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from streamflow.db.models import MasterStation, StationMapping
from streamflow.db.repository import insert_for as _insert_for
from streamflow.errors import ReferenceDataError
from streamflow.vocabulary import Agency, MappingTarget

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_UPSTREAM_DIR = DEFAULT_DATA_DIR / "upstream"

# Upstream files (data/upstream/README.md). Each may be stored gzipped as ``<name>.gz``.
HADS_LISTING = "ALL_USGS-HADS_SITES.txt"
NWPS_REPORT = "nwps_all_gauges_report.csv"
NWIS_SITES = "peckhams_NWIS_Current_Streamflow_Site_Data.rdb.tsv"
EC_STATION_LIST = "snowsky_hydrometric_StationList_2015.csv"

# Outputs (data/).
MAPPINGS_FILE = "hads_id_mappings.csv"
MASTER_FILE = "master_stations.csv"
EC_MATCHES_FILE = "ec_nwps_matches.csv"
CONFLICTS_FILE = "hads_id_conflicts.csv"

MAPPING_COLUMNS = ("source_agency", "source_id", "target_agency", "target_id")
MASTER_COLUMNS = (
    "station_number",
    "station_name",
    "latitude",
    "longitude",
    "state_code",
    "huc_code",
    "altitude_ft",
    "drainage_area_sqmi",
    "agency",
)
EC_MATCH_COLUMNS = (
    "nws_lid",
    "nwps_name",
    "nwps_latitude",
    "nwps_longitude",
    "nwps_state",
    "nwps_in_service",
    "selected_because",
    "candidate_station_number",
    "candidate_name",
    "candidate_prov_terr",
    "distance_km",
    "name_score",
    "decision",
    "reason",
)
CONFLICT_COLUMNS = ("source_id", "station_name", "kept_target_id", "other_target_ids", "rule")

ACCEPTED = "accepted"
REJECTED = "rejected"

# EC ↔ NWPS matching: a candidate must be within SEARCH_RADIUS_KM; it is accepted when it is
# very close with a fair name match, or a little further with a strong one.
SEARCH_RADIUS_KM = 10.0
CLOSE_KM = 1.0
CLOSE_MIN_SCORE = 0.5
NEAR_MIN_SCORE = 0.8

_LID = re.compile(r"^[A-Z][A-Z0-9]{3}[0-9]$")  # NWS location id (SHEF id), e.g. ANAW1, R01N5
_USGS_SITE = re.compile(r"^[0-9]{8,15}$")
_WSC_STATION = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{3}$")
_CANADIAN_LID = re.compile(r"^[A-Z]{3}Q[0-9]$")

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

LOAD_BATCH_ROWS = 1_000  # rows per executemany call of the upsert


# =========================================================================== build


@dataclass(frozen=True)
class MappingConflict:
    """A USGS number the sources give several NWS location ids for; one is kept (``rule`` says why)."""

    source_id: str
    station_name: str
    kept_target_id: str | None
    other_target_ids: tuple[str, ...]
    rule: str


@dataclass
class BuildReport:
    """What :func:`build_reference` read and wrote."""

    hads_rows_read: int = 0
    hads_duplicate_rows: int = 0
    hads_bad_rows: int = 0
    usgs_hads_from_listing: int = 0
    usgs_hads_from_nwps: int = 0
    usgs_nwm: int = 0
    ec_points: int = 0
    ec_accepted: int = 0
    ec_rejected: int = 0
    master_usgs: int = 0
    master_ec: int = 0
    conflicts: list[MappingConflict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def usgs_hads(self) -> int:
        return self.usgs_hads_from_listing + self.usgs_hads_from_nwps

    @property
    def mappings(self) -> int:
        return self.usgs_hads + self.usgs_nwm + self.ec_accepted

    @property
    def master_stations(self) -> int:
        return self.master_usgs + self.master_ec

    def summary(self) -> str:
        lines = [
            f"{MAPPINGS_FILE}: {self.mappings} rows — USGS→NOAA-HADS {self.usgs_hads} "
            f"({self.usgs_hads_from_listing} from the HADS listing, "
            f"{self.usgs_hads_from_nwps} from the NWPS report), "
            f"USGS→NOAA-NWM {self.usgs_nwm}, EC→NOAA-HADS {self.ec_accepted}",
            f"HADS listing: {self.hads_rows_read} rows read, {self.hads_duplicate_rows} exact duplicates, "
            f"{self.hads_bad_rows} unusable; {len(self.conflicts)} conflicts listed in {CONFLICTS_FILE}",
            f"{EC_MATCHES_FILE}: {self.ec_points} Canadian NWPS points, {self.ec_accepted} accepted, "
            f"{self.ec_rejected} rejected",
            f"{MASTER_FILE}: {self.master_stations} stations ({self.master_usgs} USGS, {self.master_ec} EC)",
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class _HadsRow:
    line: int
    lid: str
    usgs_id: str
    name: str


@dataclass(frozen=True)
class _NwpsPoint:
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
class _EcStation:
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


def parse_hads_listing(text: str, report: BuildReport) -> list[_HadsRow]:
    """NOAA's ``ALL_USGS-HADS_SITES.txt``: 4 header lines, then fixed-width pipe-delimited rows
    ``NWSLI|USGS number|GOES id|HSA|lat|lon|name``. USGS numbers are kept as text (leading zeros)."""
    lines = text.splitlines()
    if len(lines) < 4 or not lines[3].startswith("-----") or "STATION" not in lines[1]:
        raise ReferenceDataError(
            f"{HADS_LISTING}: the 4-line header is not where it used to be; the layout changed"
        )
    rows: list[_HadsRow] = []
    for number, line in enumerate(lines[4:], start=5):
        if not line.strip():
            continue
        report.hads_rows_read += 1
        fields = line.split("|")
        lid = fields[0].strip() if fields else ""
        usgs = fields[1].strip() if len(fields) > 1 else ""
        if len(fields) != 7 or not _LID.match(lid) or not _USGS_SITE.match(usgs):
            report.hads_bad_rows += 1
            report.warnings.append(f"{HADS_LISTING} line {number}: not a usable row: {line.strip()[:80]!r}")
            continue
        rows.append(_HadsRow(number, lid, usgs, fields[6].strip()))
    return rows


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def parse_nwps_report(text: str) -> list[_NwpsPoint]:
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
            _NwpsPoint(number, v["nws shef id"], v["location name"], v["usgs id"], v["latitude"],
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
        if not _USGS_SITE.match(site):
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


def parse_ec_station_list(text: str, report: BuildReport) -> list[_EcStation]:
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
        if len(row) < 5 or not _WSC_STATION.match(station):
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
            _EcStation(station, row[1].strip(), latitude, longitude, row[4].strip(), lat_text, lon_text)
        )
    return stations


# --------------------------------------------------------------------------- USGS → NOAA-HADS


def _usgs_hads_mappings(
    hads: list[_HadsRow], nwps: list[_NwpsPoint], current_sites: set[str], report: BuildReport
) -> dict[str, str]:
    """USGS number → NWS location id.

    The HADS listing is the source. Where it lists several location ids for one number, the one
    the NWPS report lists for that number wins, else the alphabetically first (stable whatever
    order the upstream rows come in). A USGS number the listing lacks is taken from the NWPS
    report when its zero-stripped ``usgs id`` matches exactly one current NWIS streamflow site
    (that confirms the lost zeros) and its location id is not already another site's in HADS.
    """
    by_site: dict[str, dict[str, _HadsRow]] = defaultdict(dict)
    for row in hads:
        if row.lid in by_site[row.usgs_id]:
            report.hads_duplicate_rows += 1
        else:
            by_site[row.usgs_id][row.lid] = row
    hads_sites_of_lid: dict[str, set[str]] = defaultdict(set)
    for row in hads:
        hads_sites_of_lid[row.lid].add(row.usgs_id)

    # NWPS rows keyed by the USGS number without leading zeros (the report lost them).
    nwps_lids: dict[str, set[str]] = defaultdict(set)
    for point in nwps:
        if point.usgs_raw.isdigit() and _LID.match(point.lid):
            nwps_lids[point.usgs_raw.lstrip("0")].add(point.lid)

    chosen: dict[str, str] = {}
    for site in sorted(by_site):
        lids = sorted(by_site[site])
        name = by_site[site][lids[0]].name
        if len(lids) == 1:
            chosen[site] = lids[0]
            confirmed = nwps_lids.get(site.lstrip("0"), set())
            if confirmed and lids[0] not in confirmed:
                report.conflicts.append(
                    MappingConflict(site, name, lids[0], tuple(sorted(confirmed)),
                                    "HADS listing kept; the NWPS report names another location id")
                )  # fmt: skip
            continue
        listed = [lid for lid in lids if lid in nwps_lids.get(site.lstrip("0"), set())]
        if len(listed) == 1:
            keep, rule = listed[0], "several ids in the HADS listing; kept the one the NWPS report lists"
        else:
            keep, rule = (
                lids[0],
                "several ids in the HADS listing, none confirmed by NWPS; kept the first alphabetically",
            )
        chosen[site] = keep
        report.conflicts.append(MappingConflict(site, name, keep, tuple(x for x in lids if x != keep), rule))
    report.usgs_hads_from_listing = len(chosen)

    # Supplement from the NWPS report.
    current_by_stripped: dict[str, list[str]] = defaultdict(list)
    for site in current_sites:
        current_by_stripped[site.lstrip("0")].append(site)
    candidates: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    for point in nwps:
        if not point.usgs_raw.isdigit() or not _LID.match(point.lid) or _CANADIAN_LID.match(point.lid):
            continue
        matches = current_by_stripped.get(point.usgs_raw.lstrip("0"), [])
        if len(matches) != 1 or matches[0] in by_site:
            continue
        candidates[matches[0]].add(point.lid)
        names[matches[0]] = point.name
    added = 0
    for site in sorted(candidates):
        lids = sorted(candidates[site])
        clash = [lid for lid in lids if hads_sites_of_lid.get(lid, set()) - {site}]
        usable = [lid for lid in lids if lid not in clash]
        if clash:
            report.conflicts.append(
                MappingConflict(site, names[site], usable[0] if usable else None, tuple(clash),
                                "NWPS report only; its location id belongs to another USGS site in HADS")
            )  # fmt: skip
        if not usable:
            continue
        if len(usable) > 1:
            report.conflicts.append(
                MappingConflict(site, names[site], usable[0], tuple(usable[1:]),
                                "NWPS report only, several ids; kept the first alphabetically")
            )  # fmt: skip
        chosen[site] = usable[0]
        added += 1
    report.usgs_hads_from_nwps = added
    return chosen


# --------------------------------------------------------------------------- EC → NOAA-HADS

_ABBREVIATIONS = {
    "R": "RIVER", "RV": "RIVER", "CK": "CREEK", "CR": "CREEK", "CRK": "CREEK", "NR": "NEAR",
    "AB": "ABOVE", "ABV": "ABOVE", "BL": "BELOW", "BLO": "BELOW", "BLW": "BELOW", "RES": "RESERVOIR",
    "LK": "LAKE", "FT": "FORT", "ST": "SAINT", "STE": "SAINTE", "HWY": "HIGHWAY", "KILOMETER": "KM",
    "KILOMETRE": "KM", "IB": "INTERNATIONAL BOUNDARY", "BDY": "BOUNDARY", "BORDER": "BOUNDARY",
    "MTN": "MOUNTAIN", "SASK": "SASKATCHEWAN",
}  # fmt: skip
_STOPWORDS = {
    "AT",
    "NEAR",
    "THE",
    "OF",
    "IN",
    "ON",
    "AND",
    "A",
    "AU",
    "AUX",
    "DE",
    "DES",
    "DU",
    "LA",
    "LE",
    "D",
    "L",
}


def _name_tokens(name: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").upper()
    tokens = []
    for word in re.findall(r"[A-Z0-9]+", plain):
        for token in _ABBREVIATIONS.get(word, word).split():
            if token not in _STOPWORDS:
                tokens.append(token)
    return tokens


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    return min(len(a), len(b)) >= 4 and difflib.SequenceMatcher(None, a, b).ratio() >= 0.85


def name_score(wsc_name: str, nwps_name: str) -> float:
    """Share of the WSC name's words found in the NWPS name (0–1).

    Case, accents and common abbreviations (``Ck``, ``nr``, ``blo``, ``IB``…) are normalised and
    near-identical spellings count (``Meduxenkeag``/``Meduxnekeag``); NWPS names add context
    (``-Yukon Territory``, ``nr Consul 3NNE``) that does not lower the score."""
    wsc = set(_name_tokens(wsc_name))
    nwps = set(_name_tokens(nwps_name))
    if not wsc:
        return 0.0
    found = sum(1 for w in wsc if any(_same_word(w, n) for n in nwps))
    return found / len(wsc)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _canadian_points(nwps: list[_NwpsPoint]) -> list[tuple[_NwpsPoint, str]]:
    """NWPS points that are Water Survey of Canada gauges: LIDs ``???Q#`` (the report carries no
    WSC number for them), or points attributed to a Canadian agency, or whose ``usgs id`` column
    holds a WSC-shaped number."""
    out = []
    for point in nwps:
        reasons = []
        if _CANADIAN_LID.match(point.lid):
            reasons.append("LID ???Q#")
        if re.search(r"canada", point.attribution, re.IGNORECASE):
            reasons.append(f"attribution '{point.attribution}'")
        if _WSC_STATION.match(point.usgs_raw):
            reasons.append(f"usgs id column holds WSC id {point.usgs_raw}")
        if reasons:
            out.append((point, "; ".join(reasons)))
    return out


def _match_ec_points(
    nwps: list[_NwpsPoint], ec: list[_EcStation], report: BuildReport
) -> list[dict[str, str]]:
    ec_by_id = {s.station_number: s for s in ec}
    results = []
    for point, because in _canadian_points(nwps):
        row = {
            "nws_lid": point.lid, "nwps_name": point.name, "nwps_latitude": point.latitude,
            "nwps_longitude": point.longitude, "nwps_state": point.state, "nwps_in_service": point.in_service,
            "selected_because": because, "candidate_station_number": "", "candidate_name": "",
            "candidate_prov_terr": "", "distance_km": "", "name_score": "", "decision": REJECTED,
            "reason": "",
        }  # fmt: skip
        results.append(row)
        try:
            lat, lon = float(point.latitude), float(point.longitude)
        except ValueError:
            row["reason"] = "NWPS point has no usable coordinates"
            continue
        scored = sorted(
            ((haversine_km(lat, lon, s.latitude, s.longitude), s) for s in ec),
            key=lambda t: (t[0], t[1].station_number),
        )
        within = [(d, s, name_score(s.name, point.name)) for d, s in scored if d <= SEARCH_RADIUS_KM]
        if within:
            distance, station, score = max(within, key=lambda t: (t[2], -t[0]))
        else:
            distance, station = scored[0]
            score = name_score(station.name, point.name)
        row.update(
            candidate_station_number=station.station_number, candidate_name=station.name,
            candidate_prov_terr=station.prov_terr, distance_km=f"{distance:.3f}", name_score=f"{score:.2f}",
        )  # fmt: skip
        named = point.usgs_raw if _WSC_STATION.match(point.usgs_raw) else None
        if distance > SEARCH_RADIUS_KM:
            row["reason"] = f"no WSC station within {SEARCH_RADIUS_KM:g} km (nearest shown)"
        elif named and named in ec_by_id and named != station.station_number:
            row["reason"] = f"the report's usgs id column names {named}, not the best candidate"
        elif distance <= CLOSE_KM and score >= CLOSE_MIN_SCORE:
            row.update(decision=ACCEPTED, reason=f"within {CLOSE_KM:g} km, name score >= {CLOSE_MIN_SCORE:g}")
        elif score >= NEAR_MIN_SCORE:
            row.update(
                decision=ACCEPTED, reason=f"within {SEARCH_RADIUS_KM:g} km, name score >= {NEAR_MIN_SCORE:g}"
            )
        else:
            row["reason"] = "name does not match well enough for the distance"
        if row["decision"] == ACCEPTED and named == station.station_number:
            row["reason"] += f"; agrees with the report's usgs id column ({named})"

    # One WSC station maps to one NWPS point: keep the best, reject the others.
    by_station: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in results:
        if row["decision"] == ACCEPTED:
            by_station[row["candidate_station_number"]].append(row)
    for station, rows in by_station.items():
        if len(rows) > 1:
            rows.sort(key=lambda r: (-float(r["name_score"]), float(r["distance_km"]), r["nws_lid"]))
            for loser in rows[1:]:
                loser.update(decision=REJECTED, reason=f"{station} is matched better by {rows[0]['nws_lid']}")
    results.sort(key=lambda r: r["nws_lid"])
    report.ec_points = len(results)
    report.ec_accepted = sum(1 for r in results if r["decision"] == ACCEPTED)
    report.ec_rejected = report.ec_points - report.ec_accepted
    return results


# --------------------------------------------------------------------------- writing


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """UTF-8, no BOM, ``\\n`` line ends, minimal quoting; written to a temp file and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_reference(upstream_dir: Path, out_dir: Path) -> BuildReport:
    """Build the reference CSVs in ``out_dir`` from the upstream files in ``upstream_dir``."""
    upstream_dir, out_dir = Path(upstream_dir), Path(out_dir)
    report = BuildReport()
    hads = parse_hads_listing(read_upstream_text(upstream_dir, HADS_LISTING), report)
    nwps = parse_nwps_report(read_upstream_text(upstream_dir, NWPS_REPORT))
    usgs_master = parse_nwis_sites(read_upstream_text(upstream_dir, NWIS_SITES), report)
    ec = parse_ec_station_list(read_upstream_text(upstream_dir, EC_STATION_LIST), report)

    usgs_hads = _usgs_hads_mappings(hads, nwps, {row[0] for row in usgs_master}, report)
    ec_matches = _match_ec_points(nwps, ec, report)
    # The NWPS report has no reach / NWM feature id column, so no USGS → NOAA-NWM rows are known
    # offline (NWPS serves them per gauge as ``reachId``); report.usgs_nwm stays 0.

    mappings = [
        (Agency.USGS.value, site, MappingTarget.NOAA_HADS.value, lid) for site, lid in usgs_hads.items()
    ]
    mappings += [
        (Agency.EC.value, r["candidate_station_number"], MappingTarget.NOAA_HADS.value, r["nws_lid"])
        for r in ec_matches
        if r["decision"] == ACCEPTED
    ]
    mappings.sort()

    master = list(usgs_master)
    master += [
        (
            s.station_number,
            s.name,
            s.latitude_text,
            s.longitude_text,
            s.prov_terr,
            "",
            "",
            "",
            Agency.EC.value,
        )
        for s in ec
    ]
    seen: dict[str, str] = {}
    unique_master = []
    for row in sorted(master, key=lambda r: (r[0], r[8])):
        if row[0] in seen:
            report.warnings.append(
                f"station {row[0]} listed by {seen[row[0]]} and {row[8]}; kept {seen[row[0]]}"
            )
            continue
        seen[row[0]] = row[8]
        unique_master.append(row)
    report.master_usgs = sum(1 for r in unique_master if r[8] == Agency.USGS.value)
    report.master_ec = sum(1 for r in unique_master if r[8] == Agency.EC.value)

    report.conflicts.sort(key=lambda c: (c.source_id, c.rule))
    conflict_rows = [
        (c.source_id, c.station_name, c.kept_target_id or "", " ".join(c.other_target_ids), c.rule)
        for c in report.conflicts
    ]
    outputs = {
        MAPPINGS_FILE: (MAPPING_COLUMNS, mappings),
        MASTER_FILE: (MASTER_COLUMNS, unique_master),
        EC_MATCHES_FILE: (EC_MATCH_COLUMNS, [[r[c] for c in EC_MATCH_COLUMNS] for r in ec_matches]),
        CONFLICTS_FILE: (CONFLICT_COLUMNS, conflict_rows),
    }
    for name, (header, rows) in outputs.items():
        _write_csv(out_dir / name, header, rows)
        report.files[name] = out_dir / name
    log.debug("reference build into %s:\n%s", out_dir, report.summary())
    return report


# =========================================================================== load


@dataclass(frozen=True)
class BadRow:
    """A CSV row that was not loaded."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.message}"


@dataclass
class TableLoad:
    """Counts for one CSV → table load."""

    file: str
    table: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    total_in_table: int = 0

    def summary(self) -> str:
        return (
            f"{self.file} → {self.table}: {self.rows_read} rows read, {self.inserted} inserted, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.skipped} skipped; "
            f"{self.total_in_table} rows in the table"
        )


@dataclass
class LoadReport:
    """What :func:`load_reference` did; ``bad_rows`` name file and line of every skipped row."""

    mappings: TableLoad
    master_stations: TableLoad
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        return [str(b) for b in self.bad_rows]

    def summary(self) -> str:
        lines = [self.mappings.summary(), self.master_stations.summary()]
        lines += [f"skipped: {b}" for b in self.bad_rows]
        return "\n".join(lines)


def _read_csv_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data row; the header must be exactly ``columns``."""
    if not path.exists():
        raise ReferenceDataError(
            f"reference file {path} not found (build it: python -m streamflow.reference build)"
        )
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != list(columns):
            raise ReferenceDataError(
                f"{path.name} line 1: header must be {','.join(columns)}, found {header!r}"
            )
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            yield reader.line_num, fields


def _optional_float(
    value: str, what: str, low: float | None = None, high: float | None = None
) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if (
        not math.isfinite(number)
        or (low is not None and number < low)
        or (high is not None and number > high)
    ):
        raise ValueError(f"{what} {value!r} is out of range")
    return number


def _text(value: str, what: str, max_len: int, *, required: bool) -> str | None:
    value = value.strip()
    if not value:
        if required:
            raise ValueError(f"{what} is missing")
        return None
    if len(value) > max_len:
        raise ValueError(f"{what} {value[:60]!r} is longer than {max_len} characters")
    return value


def _mapping_record(fields: list[str]) -> dict:
    source_agency = _text(fields[0], "source_agency", 50, required=True)
    if source_agency not in {a.value for a in Agency}:
        raise ValueError(
            f"unknown source_agency {source_agency!r} (expected one of {', '.join(a.value for a in Agency)})"
        )
    target_agency = _text(fields[2], "target_agency", 50, required=True)
    if target_agency not in {t.value for t in MappingTarget}:
        raise ValueError(
            f"unknown target_agency {target_agency!r} "
            f"(expected one of {', '.join(t.value for t in MappingTarget)})"
        )
    return {
        "source_agency": source_agency,
        "source_id": _text(fields[1], "source_id", 50, required=True),
        "target_agency": target_agency,
        "target_id": _text(fields[3], "target_id", 50, required=True),
    }


def _master_record(fields: list[str]) -> dict:
    agency = _text(fields[8], "agency", 20, required=True)
    if agency not in {a.value for a in Agency}:
        raise ValueError(f"unknown agency {agency!r} (expected one of {', '.join(a.value for a in Agency)})")
    return {
        "station_number": _text(fields[0], "station_number", 50, required=True),
        "station_name": _text(fields[1], "station_name", 10_000, required=True),
        "latitude": _optional_float(fields[2], "latitude", -90, 90),
        "longitude": _optional_float(fields[3], "longitude", -180, 180),
        "state_code": _text(fields[4], "state_code", 10, required=False),
        "huc_code": _text(fields[5], "huc_code", 20, required=False),
        "altitude_ft": _optional_float(fields[6], "altitude_ft"),
        "drainage_area_sqmi": _optional_float(fields[7], "drainage_area_sqmi", 0),
        "agency": agency,
    }


def _upsert_file(
    session: Session,
    path: Path,
    *,
    table,
    columns: Sequence[str],
    key: Sequence[str],
    to_record,
    bad_rows: list[BadRow],
) -> TableLoad:
    counts = TableLoad(file=path.name, table=table.name)
    records: list[dict] = []
    first_line: dict[tuple, int] = {}
    for line, fields in _read_csv_rows(path, columns):
        counts.rows_read += 1
        try:
            if len(fields) != len(columns):
                raise ValueError(f"{len(fields)} columns instead of {len(columns)}")
            record = to_record(fields)
        except ValueError as exc:
            bad_rows.append(BadRow(path.name, line, str(exc)))
            continue
        ident = tuple(record[k] for k in key)
        if ident in first_line:
            bad_rows.append(
                BadRow(path.name, line, f"duplicate of line {first_line[ident]} ({', '.join(ident)})")
            )
            continue
        first_line[ident] = line
        records.append(record)
    counts.skipped = counts.rows_read - len(records)

    # Compare with what is stored first: only new and changed rows are written, and the counts are
    # exact without relying on INSERT rowcounts (which drivers report differently).
    changed_columns = [c for c in columns if c not in key]
    stored = {
        tuple(row[: len(key)]): tuple(row[len(key) :])
        for row in session.execute(select(*(table.c[c] for c in (*key, *changed_columns))))
    }
    to_write = []
    for record in records:
        current = stored.get(tuple(record[k] for k in key))
        if current is None:
            counts.inserted += 1
        elif current != tuple(record[c] for c in changed_columns):
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        to_write.append(record)

    insert = _insert_for(session)
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in key],
        set_={c: stmt.excluded[c] for c in changed_columns},
        # A row another writer already brought up to date is left alone.
        where=or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in changed_columns)),
    )
    for start in range(0, len(to_write), LOAD_BATCH_ROWS):
        # executemany: compiled once; SQLAlchemy sends multi-row VALUES ("insertmanyvalues").
        session.execute(stmt, to_write[start : start + LOAD_BATCH_ROWS])
    counts.total_in_table = session.execute(select(func.count()).select_from(table)).scalar_one()
    log.debug("%s", counts.summary())
    return counts


def load_reference(session: Session, data_dir: Path = DEFAULT_DATA_DIR) -> LoadReport:
    """Upsert ``hads_id_mappings.csv`` and ``master_stations.csv`` from ``data_dir``; the caller commits.

    Rows are keyed on ``unique_mapping_idx`` (source_agency, source_id, target_agency) and on
    ``master_stations.station_number``; a row already stored with the same values is left alone.
    Rows not in the files are not deleted. A bad row (wrong column count, missing id, unknown
    agency, non-numeric coordinate, duplicate key) is skipped and reported with file and line.
    A missing file or a wrong header raises :class:`ReferenceDataError`.
    """
    data_dir = Path(data_dir)
    bad_rows: list[BadRow] = []
    mappings = _upsert_file(
        session, data_dir / MAPPINGS_FILE, table=StationMapping.__table__, columns=MAPPING_COLUMNS,
        key=("source_agency", "source_id", "target_agency"), to_record=_mapping_record, bad_rows=bad_rows,
    )  # fmt: skip
    master = _upsert_file(
        session, data_dir / MASTER_FILE, table=MasterStation.__table__, columns=MASTER_COLUMNS,
        key=("station_number",), to_record=_master_record, bad_rows=bad_rows,
    )  # fmt: skip
    for bad in bad_rows:
        log.warning("reference row skipped: %s", bad)
    return LoadReport(mappings=mappings, master_stations=master, bad_rows=bad_rows)


# =========================================================================== command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamflow.reference build [--upstream DIR] [--out DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m streamflow.reference", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="rebuild data/*.csv from data/upstream")
    build.add_argument(
        "--upstream", type=Path, default=DEFAULT_UPSTREAM_DIR, help="upstream files (default: %(default)s)"
    )
    build.add_argument(
        "--out", type=Path, default=DEFAULT_DATA_DIR, help="output directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = build_reference(args.upstream, args.out)
    except ReferenceDataError as exc:
        log.error("%s", exc)
        return 1
    sys.stdout.write(report.summary() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
