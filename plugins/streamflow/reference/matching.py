"""Matching across the upstream files: USGS number → NWS location id, and EC ↔ NWPS points.

* :func:`usgs_hads_mappings`: the HADS listing, with its multi-id numbers resolved by the NWPS
  report and supplemented by NWPS rows whose zero-stripped USGS number is one current NWIS site.
* :func:`match_ec_points`: each Canadian NWPS point to the WSC station that matches it by
  distance and name (:func:`name_score`), accepted or rejected with the reason.

The choices are kept for review: conflicts in the build report (``hads_id_conflicts.csv``), every
EC decision with its reason in the result rows (``ec_nwps_matches.csv``).
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streamflow.reference.upstream import CANADIAN_LID, NWS_LID, WSC_STATION, EcStation, HadsRow, NwpsPoint

if TYPE_CHECKING:
    from streamflow.reference.build import BuildReport

ACCEPTED = "accepted"
REJECTED = "rejected"

# EC ↔ NWPS matching: a candidate must be within SEARCH_RADIUS_KM; it is accepted when it is
# very close with a fair name match, or a little further with a strong one.
SEARCH_RADIUS_KM = 10.0
CLOSE_KM = 1.0
CLOSE_MIN_SCORE = 0.5
NEAR_MIN_SCORE = 0.8


@dataclass(frozen=True)
class MappingConflict:
    """A USGS number the sources give several NWS location ids for; one is kept (``rule`` says why)."""

    source_id: str
    station_name: str
    kept_target_id: str | None
    other_target_ids: tuple[str, ...]
    rule: str


# --------------------------------------------------------------------------- USGS → NOAA-HADS


def usgs_hads_mappings(
    hads: list[HadsRow], nwps: list[NwpsPoint], current_sites: set[str], report: BuildReport
) -> dict[str, str]:
    """USGS number → NWS location id.

    The HADS listing is the source. Where it lists several location ids for one number, the one
    the NWPS report lists for that number wins, else the alphabetically first (stable whatever
    order the upstream rows come in). A USGS number the listing lacks is taken from the NWPS
    report when its zero-stripped ``usgs id`` matches exactly one current NWIS streamflow site
    (that confirms the lost zeros) and its location id is not already another site's in HADS.
    """
    by_site: dict[str, dict[str, HadsRow]] = defaultdict(dict)
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
        if point.usgs_raw.isdigit() and NWS_LID.match(point.lid):
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
        if not point.usgs_raw.isdigit() or not NWS_LID.match(point.lid) or CANADIAN_LID.match(point.lid):
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


def _canadian_points(nwps: list[NwpsPoint]) -> list[tuple[NwpsPoint, str]]:
    """NWPS points that are Water Survey of Canada gauges: LIDs ``???Q#`` (the report carries no
    WSC number for them), or points attributed to a Canadian agency, or whose ``usgs id`` column
    holds a WSC-shaped number."""
    out = []
    for point in nwps:
        reasons = []
        if CANADIAN_LID.match(point.lid):
            reasons.append("LID ???Q#")
        if re.search(r"canada", point.attribution, re.IGNORECASE):
            reasons.append(f"attribution '{point.attribution}'")
        if WSC_STATION.match(point.usgs_raw):
            reasons.append(f"usgs id column holds WSC id {point.usgs_raw}")
        if reasons:
            out.append((point, "; ".join(reasons)))
    return out


def match_ec_points(
    nwps: list[NwpsPoint], ec: list[EcStation], report: BuildReport
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
        named = point.usgs_raw if WSC_STATION.match(point.usgs_raw) else None
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
