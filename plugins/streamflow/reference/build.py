"""Build the reference CSVs in ``data/`` from the upstream files (pure file work, no database).

::

    data/hads_id_mappings.csv   source_agency,source_id,target_agency,target_id
    data/master_stations.csv    station_number,station_name,latitude,longitude,state_code,
                                huc_code,altitude_ft,drainage_area_sqmi,agency

plus two files a person reviews: ``data/ec_nwps_matches.csv`` (every Canadian point NWPS serves,
with the WSC station it was matched to or why not) and ``data/hads_id_conflicts.csv`` (every
USGS number the sources give more than one NWS location id for, and which one was kept).
Output is sorted and formatted deterministically: a rebuild gives the same bytes.
Rebuild with ``streamflow db build-reference``.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamflow.reference.files import (
    CONFLICT_COLUMNS,
    CONFLICTS_FILE,
    EC_MATCH_COLUMNS,
    EC_MATCHES_FILE,
    MAPPING_COLUMNS,
    MAPPINGS_FILE,
    MASTER_COLUMNS,
    MASTER_FILE,
)
from streamflow.reference.matching import ACCEPTED, MappingConflict, match_ec_points, usgs_hads_mappings
from streamflow.reference.upstream import (
    EC_STATION_LIST,
    HADS_LISTING,
    NWIS_SITES,
    NWPS_REPORT,
    parse_ec_station_list,
    parse_hads_listing,
    parse_nwis_sites,
    parse_nwps_report,
    read_upstream_text,
)
from streamflow.vocabulary import Agency, MappingTarget

log = logging.getLogger(__name__)


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

    usgs_hads = usgs_hads_mappings(hads, nwps, {row[0] for row in usgs_master}, report)
    ec_matches = match_ec_points(nwps, ec, report)
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
