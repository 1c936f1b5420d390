"""Reference data: the build from the upstream copies in data/upstream, the load, the search.

Expected values were read by hand from the upstream files (line numbers quoted) or counted with
awk on them, not taken from the build's own output.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamflow.db.models import MasterStation, StationMapping
from streamflow.errors import ConfigurationError, ReferenceDataError
from streamflow.db.stations import search_master_stations
from streamflow.reference import (
    CONFLICTS_FILE,
    EC_MATCHES_FILE,
    MAPPING_COLUMNS,
    MAPPINGS_FILE,
    MASTER_COLUMNS,
    MASTER_FILE,
    build_reference,
    load_reference,
    main,
    name_score,
)

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
        # data/ holds exactly what the build command produces (rebuild: python -m streamflow.reference build).
        assert (DATA / name).read_bytes() == (first / name).read_bytes(), f"data/{name} is stale"


def test_build_command_line(tmp_path, capsys):
    assert main(["build", "--upstream", str(UPSTREAM), "--out", str(tmp_path)]) == 0
    assert "10723 stations (8820 USGS, 1903 EC)" in capsys.readouterr().out
    assert (tmp_path / MAPPINGS_FILE).read_bytes() == (DATA / MAPPINGS_FILE).read_bytes()


def test_build_without_upstream_files_names_the_missing_file(tmp_path):
    with pytest.raises(ReferenceDataError, match="ALL_USGS-HADS_SITES.txt"):
        build_reference(tmp_path, tmp_path / "out")
    assert main(["build", "--upstream", str(tmp_path), "--out", str(tmp_path / "out")]) == 1


# --------------------------------------------------------------------------- load


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_load_twice_gives_identical_counts(session):
    started = time.perf_counter()
    first = load_reference(session, DATA)
    session.commit()
    second = load_reference(session, DATA)
    session.commit()
    elapsed = time.perf_counter() - started

    assert first.bad_rows == [] and second.bad_rows == []
    assert (first.mappings.rows_read, first.mappings.inserted, first.mappings.updated) == (10_893, 10_893, 0)
    assert (first.master_stations.rows_read, first.master_stations.inserted) == (10_723, 10_723)
    assert (second.mappings.inserted, second.mappings.updated, second.mappings.unchanged) == (0, 0, 10_893)
    assert (second.master_stations.inserted, second.master_stations.updated) == (0, 0)
    assert second.master_stations.unchanged == 10_723
    assert (
        first.mappings.total_in_table
        == second.mappings.total_in_table
        == _count(session, StationMapping)
        == 10_893
    )
    assert first.master_stations.total_in_table == second.master_stations.total_in_table == 10_723
    assert _count(session, MasterStation) == 10_723
    brkm2 = session.execute(
        select(StationMapping.target_id).where(StationMapping.source_id == "01646500")
    ).scalar_one()
    assert brkm2 == "BRKM2"
    # A regression guard, not a benchmark: two loads of ~21,600 rows took about 1-2 s here.
    assert elapsed < 60


MAPPINGS_WITH_BAD_ROWS = """\
source_agency,source_id,target_agency,target_id
USGS,01646500,NOAA-HADS,BRKM2
USGS,,NOAA-HADS,XXXX1
NOAA,01646500,NOAA-HADS,BRKM2
USGS,02037500,NOAA-HADS
EC,08CG001,NOAA-HADS,ISKQ2
USGS,01646500,NOAA-HADS,OTHR1
USGS,02037500,NOAA-NWM,
USGS,02037500,NWM,4512772
"""

MASTER_WITH_BAD_ROWS = """\
station_number,station_name,latitude,longitude,state_code,huc_code,altitude_ft,drainage_area_sqmi,agency
01646500,"POTOMAC RIVER NEAR WASH, DC",38.94977778,-77.12763889,MD,02070008,37.2,11560,USGS
02037500,JAMES RIVER NR RICHMOND,north,-77.547,VA,02080205,,,USGS
08MF005,FRASER RIVER AT HOPE,49.38055,-121.4514,BC,,,,EC
,NO NUMBER,40,-100,CO,,,,USGS
09EB001,YUKON RIVER AT DAWSON,64.07,-139.425,YT,,,,WSC
01010000,too few,46.7,-69.7
01010070,Big Black River,95.5,-69.75,ME,,,,USGS
"""


def _write_reference(directory: Path, mappings: str, master: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MAPPINGS_FILE).write_text(mappings, encoding="utf-8")
    (directory / MASTER_FILE).write_text(master, encoding="utf-8")
    return directory


def test_bad_rows_are_reported_with_file_and_line_and_the_rest_load(session, tmp_path):
    data = _write_reference(tmp_path / "data", MAPPINGS_WITH_BAD_ROWS, MASTER_WITH_BAD_ROWS)
    report = load_reference(session, data)
    session.commit()
    assert report.messages == [
        "hads_id_mappings.csv line 3: source_id is missing",
        "hads_id_mappings.csv line 4: unknown source_agency 'NOAA' (expected one of USGS, EC)",
        "hads_id_mappings.csv line 5: 3 columns instead of 4",
        "hads_id_mappings.csv line 7: duplicate of line 2 (USGS, 01646500, NOAA-HADS)",
        "hads_id_mappings.csv line 8: target_id is missing",
        "hads_id_mappings.csv line 9: unknown target_agency 'NWM' (expected one of NOAA-HADS, NOAA-NWM)",
        "master_stations.csv line 3: latitude 'north' is not a number",
        "master_stations.csv line 5: station_number is missing",
        "master_stations.csv line 6: unknown agency 'WSC' (expected one of USGS, EC)",
        "master_stations.csv line 7: 4 columns instead of 9",
        "master_stations.csv line 8: latitude '95.5' is out of range",
    ]
    assert (report.mappings.rows_read, report.mappings.inserted, report.mappings.skipped) == (8, 2, 6)
    assert (
        report.master_stations.rows_read,
        report.master_stations.inserted,
        report.master_stations.skipped,
    ) == (
        7,
        2,
        5,
    )
    stored = session.execute(
        select(StationMapping.source_agency, StationMapping.source_id, StationMapping.target_id).order_by(
            StationMapping.source_id
        )
    ).all()
    assert [tuple(r) for r in stored] == [("USGS", "01646500", "BRKM2"), ("EC", "08CG001", "ISKQ2")]
    potomac = session.execute(
        select(MasterStation).where(MasterStation.station_number == "01646500")
    ).scalar_one()
    assert (potomac.latitude, potomac.longitude, potomac.altitude_ft, potomac.drainage_area_sqmi) == (
        38.94977778,
        -77.12763889,
        37.2,
        11560.0,
    )
    fraser = session.execute(
        select(MasterStation).where(MasterStation.station_number == "08MF005")
    ).scalar_one()
    assert (fraser.state_code, fraser.huc_code, fraser.altitude_ft, fraser.agency) == ("BC", None, None, "EC")


def test_reload_updates_only_changed_rows(session, tmp_path):
    header_m = ",".join(MAPPING_COLUMNS) + "\n"
    header_s = ",".join(MASTER_COLUMNS) + "\n"
    data = _write_reference(
        tmp_path / "v1",
        header_m + "USGS,01646500,NOAA-HADS,BRKM2\nUSGS,02037500,NOAA-HADS,RMDV2\n",
        header_s + "08MF005,FRASER RIVER AT HOPE,49.38055,-121.4514,BC,,,,EC\n",
    )
    load_reference(session, data)
    session.commit()
    data = _write_reference(
        tmp_path / "v2",
        header_m + "USGS,01646500,NOAA-HADS,BRKM2\nUSGS,02037500,NOAA-HADS,RICV2\n",
        header_s + "08MF005,FRASER RIVER AT HOPE,49.38,-121.4514,BC,,,,EC\n08MH001,X,49,-122,BC,,,,EC\n",
    )
    report = load_reference(session, data)
    session.commit()
    assert (report.mappings.inserted, report.mappings.updated, report.mappings.unchanged) == (0, 1, 1)
    assert (
        report.master_stations.inserted,
        report.master_stations.updated,
        report.master_stations.unchanged,
    ) == (
        1,
        1,
        0,
    )
    assert (
        session.execute(
            select(StationMapping.target_id).where(StationMapping.source_id == "02037500")
        ).scalar_one()
        == "RICV2"
    )


def test_load_refuses_a_file_with_the_wrong_header(session, tmp_path):
    data = _write_reference(
        tmp_path, "agency,id,target\nUSGS,01646500,BRKM2\n", ",".join(MASTER_COLUMNS) + "\n"
    )
    with pytest.raises(ReferenceDataError, match="hads_id_mappings.csv line 1: header must be"):
        load_reference(session, data)
    with pytest.raises(ReferenceDataError, match="not found"):
        load_reference(session, tmp_path / "nowhere")


# --------------------------------------------------------------------------- search


def test_search_master_stations(session):
    load_reference(session, DATA)
    session.commit()

    virginia_02 = search_master_stations(session, state="VA", huc="02", limit=1_000)
    assert len(virginia_02) == 117  # awk on the RDB: state_cd 51 and huc_cd 02*
    assert all(
        s.state_code == "VA" and s.huc_code.startswith("02") and s.agency == "USGS" for s in virginia_02
    )
    numbers = [s.station_number for s in virginia_02]
    assert numbers == sorted(numbers)
    assert numbers[:3] == ["01613900", "01615000", "01616100"]
    assert [
        s.station_number for s in search_master_stations(session, state="va", huc="02", limit=1_000)
    ] == numbers
    assert [s.station_number for s in search_master_stations(session, state="VA", huc="02")] == numbers[:50]

    potomac = search_master_stations(session, text="POTOMAC", limit=1_000)
    assert len(potomac) == 16  # awk: 16 RDB names contain "potomac", no EC station does
    assert "01646500" in {s.station_number for s in potomac}
    assert [s.station_number for s in search_master_stations(session, text="0164650")] == ["01646500"]
    yukon = search_master_stations(session, text="yukon river", agency="ec")
    assert [s.station_number for s in yukon] == ["09AB001", "09AH001", "09CD001", "09EB001"]
    assert len(search_master_stations(session, state="YT", agency="EC", limit=1_000)) == 56
    assert search_master_stations(session, text="100%_") == []
    with pytest.raises(ConfigurationError):
        search_master_stations(session, limit=0)
