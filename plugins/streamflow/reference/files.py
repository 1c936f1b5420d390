"""The reference files in ``data/``: where they are and their columns (what build writes, load reads)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_UPSTREAM_DIR = DEFAULT_DATA_DIR / "upstream"

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
