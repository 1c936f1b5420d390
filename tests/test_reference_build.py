"""Reference data, build step: the CSVs in data/ from the upstream copies in data/upstream.

Expected values were read by hand from the upstream files (line numbers quoted) or counted with
awk on them, not taken from the build's own output.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from streamflow.cli import main as cli_main
from streamflow.errors import ReferenceDataError
from streamflow.reference import build_reference
from streamflow.reference.files import (
    CONFLICTS_FILE,
    EC_MATCHES_FILE,
    MAPPING_COLUMNS,
    MAPPINGS_FILE,
    MASTER_COLUMNS,
    MASTER_FILE,
)
from streamflow.reference.matching import name_score

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
UPSTREAM = DATA / "upstream"
OUTPUTS = (MAPPINGS_FILE, MASTER_FILE, EC_MATCHES_FILE, CONFLICTS_FILE)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    report = build_reference(UPSTREAM, out)
    return report, out


# --------------------------------------------------------------------------- build


def test_build_writes_usgs_hads_mappings_with_leading_zeros(built):
    report, out = built
    rows = _rows(out / MAPPINGS_FILE)
    assert list(rows[0]) == list(MAPPING_COLUMNS)
    usgs_hads = [r for r in rows if (r["source_agency"], r["target_agency"]) == ("USGS", "NOAA-HADS")]
    # 10,510 listing rows - 2 exact duplicates - 37 extra ids of 35 multi-id numbers = 10,471;
    # + 365 from the NWPS report.
    assert report.usgs_hads_from_listing == 10_471
    assert report.usgs_hads_from_nwps == 365
    assert len(usgs_hads) == report.usgs_hads == 10_836 >= 10_000
    assert report.hads_rows_read == 10_510 and report.hads_duplicate_rows == 2 and report.hads_bad_rows == 0
    pairs = {(r["source_id"], r["target_id"]) for r in usgs_hads}
    # ALL_USGS-HADS_SITES.txt line 4330: "BRKM2|01646500       |DDAC4370|LWX|...";
    # line 5: "APTA2|15239900       |173A91AA|AFC|..."
    assert ("01646500", "BRKM2") in pairs
    assert ("15239900", "APTA2") in pairs
    # line 9687: "RMDV2|02037500 ..." (Virginia, leading zero kept)
    assert ("02037500", "RMDV2") in pairs
    assert all(r["source_id"].isdigit() and len(r["source_id"]) >= 8 for r in usgs_hads)
    # One target per USGS number (unique_mapping_idx).
    assert len({r["source_id"] for r in usgs_hads}) == len(usgs_hads)
    assert report.usgs_nwm == 0  # the NWPS report has no reach column


def test_build_resolves_hads_conflicts_and_lists_them(built):
    _, out = built
    mapping = {
        r["source_id"]: r["target_id"] for r in _rows(out / MAPPINGS_FILE) if r["source_agency"] == "USGS"
    }
    # 01463500 is listed as TREN4 and TTWN4; the NWPS report (usgs id 1463500) lists TREN4.
    assert mapping["01463500"] == "TREN4"
    # 01179500: CSTM3 and KNTM3, neither in the NWPS report -> alphabetically first.
    assert mapping["01179500"] == "CSTM3"
    # 03197790 is not in the HADS listing; the NWPS report has LSCW2 with usgs id 3197790.
    assert mapping["03197790"] == "LSCW2"
    # 0212414900 lost its zero in the NWPS report (212414900); it is a current NWIS site.
    assert mapping["0212414900"] == "MCLN7"
    conflicts = {r["source_id"]: r for r in _rows(out / CONFLICTS_FILE)}
    assert len(conflicts) == 61
    assert conflicts["01179500"]["kept_target_id"] == "CSTM3"
    assert conflicts["01179500"]["other_target_ids"] == "KNTM3"
    assert conflicts["04228500"]["other_target_ids"] == "AVON6 AVVN6"
    # NHDV1 is another site's id in HADS: not used for 01151500.
    assert conflicts["01151500"]["kept_target_id"] == ""
    assert "01151500" not in mapping


def test_build_matches_canadian_nwps_points_to_wsc_stations(built):
    report, out = built
    matches = {r["nws_lid"]: r for r in _rows(out / EC_MATCHES_FILE)}
    assert len(matches) == report.ec_points == 59
    assert sum(1 for lid in matches if lid[3] == "Q") == 51
    rejected = {lid for lid, r in matches.items() if r["decision"] == "rejected"}
    assert rejected == {"NFFQ2", "NUTQ7"}
    assert matches["ISKQ2"]["candidate_station_number"] == "08CG001"
    assert matches["STTQ2"]["candidate_station_number"] == "08CE001"
    # GRDB3's usgs id column holds the WSC number 01AF007; the coordinate match agrees.
    assert matches["GRDB3"]["candidate_station_number"] == "01AF007"
    assert "agrees" in matches["GRDB3"]["reason"]
    ec_rows = [r for r in _rows(out / MAPPINGS_FILE) if r["source_agency"] == "EC"]
    assert len(ec_rows) == report.ec_accepted == 57
    assert {
        "source_agency": "EC",
        "source_id": "08CG001",
        "target_agency": "NOAA-HADS",
        "target_id": "ISKQ2",
    } in ec_rows
    assert len({r["source_id"] for r in ec_rows}) == 57


def test_name_score_normalises_abbreviations_and_accents():
    assert (
        name_score("LYONS CREEK AT INTERNATIONAL BOUNDARY", "Battle Creek at Lyons Ck at IB nr Willow Ck 23E")
        == 1.0
    )
    assert name_score("RICHELIEU À ST-JEAN", "Richelieu River at St. Jeans Shoals") == 1.0
    assert name_score("WATERTON LAKE AT WATERTON PARK", "North Fork Flathead River at Canadian Border") == 0.0


def test_build_writes_master_stations(built):
    report, out = built
    rows = _rows(out / MASTER_FILE)
    assert list(rows[0]) == list(MASTER_COLUMNS)
    assert report.master_usgs == sum(1 for r in rows if r["agency"] == "USGS") == 8_820
    assert report.master_ec == sum(1 for r in rows if r["agency"] == "EC") == 1_903
    by_number = {r["station_number"]: r for r in rows}
    # RDB row: 01646500 / POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA / 38.94977778 / -77.12763889 /
    # state_cd 24 / alt_va " 37.20" / huc_cd 02070008 / drain_area_va 11560
    assert by_number["01646500"] == {
        "station_number": "01646500",
        "station_name": "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA",
        "latitude": "38.94977778",
        "longitude": "-77.12763889",
        "state_code": "MD",
        "huc_code": "02070008",
        "altitude_ft": "37.2",
        "drainage_area_sqmi": "11560",
        "agency": "USGS",
    }
    # Station list: 08MF005,"FRASER RIVER AT HOPE",49.380550,-121.451400,BC,UTC-08:00
    assert by_number["08MF005"] == {
        "station_number": "08MF005",
        "station_name": "FRASER RIVER AT HOPE",
        "latitude": "49.38055",
        "longitude": "-121.4514",
        "state_code": "BC",
        "huc_code": "",
        "altitude_ft": "",
        "drainage_area_sqmi": "",
        "agency": "EC",
    }
    # FIPS 51 -> VA: awk on the RDB counts 117 sites with state_cd 51 and huc_cd 02*.
    assert sum(1 for r in rows if r["state_code"] == "VA" and r["huc_code"].startswith("02")) == 117
    assert [r["station_number"] for r in rows] == sorted(r["station_number"] for r in rows)


def test_build_is_deterministic_and_matches_the_committed_files(built, tmp_path):
    _, first = built
    second = tmp_path / "again"
    build_reference(UPSTREAM, second)
    for name in OUTPUTS:
        assert (second / name).read_bytes() == (first / name).read_bytes(), name
        # data/ holds exactly what the build command produces (rebuild: streamflow db build-reference).
        assert (DATA / name).read_bytes() == (first / name).read_bytes(), f"data/{name} is stale"


def test_build_command_line(tmp_path, capsys):
    command = ["db", "build-reference", "--upstream-dir", str(UPSTREAM), "--data-dir", str(tmp_path)]
    assert cli_main(command) == 0
    assert "10723 stations (8820 USGS, 1903 EC)" in capsys.readouterr().out
    assert (tmp_path / MAPPINGS_FILE).read_bytes() == (DATA / MAPPINGS_FILE).read_bytes()


def test_build_without_upstream_files_names_the_missing_file(tmp_path, capsys):
    with pytest.raises(ReferenceDataError, match="ALL_USGS-HADS_SITES.txt"):
        build_reference(tmp_path, tmp_path / "out")
    command = ["db", "build-reference", "--upstream-dir", str(tmp_path), "--data-dir", str(tmp_path / "out")]
    assert cli_main(command) == 1
    assert "ALL_USGS-HADS_SITES.txt" in capsys.readouterr().err
