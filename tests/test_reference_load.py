"""Reference data, load step: data/*.csv into the database (idempotent), and searching what was loaded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamflow.db.models import MasterStation, StationMapping
from streamflow.db.stations import search_master_stations
from streamflow.errors import ConfigurationError, ReferenceDataError
from streamflow.reference import load_reference
from streamflow.reference.files import MAPPING_COLUMNS, MAPPINGS_FILE, MASTER_COLUMNS, MASTER_FILE

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


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


def test_an_oversize_field_or_a_non_utf8_byte_is_a_bad_row_and_the_rest_load(session, tmp_path):
    huge = "X" * 200_000  # above csv's field limit (131,072 characters)
    data = tmp_path / "data"
    data.mkdir()
    (data / MAPPINGS_FILE).write_bytes(
        (",".join(MAPPING_COLUMNS) + "\n").encode()
        + b"USGS,01646500,NOAA-HADS,BRKM2\n"
        + b"USGS,02037500,NOAA-HADS,RMD\xffV2\n"  # line 3: a byte that is not UTF-8
        + b"EC,08CG001,NOAA-HADS,ISKQ2\n"
    )
    (data / MASTER_FILE).write_bytes(
        (
            ",".join(MASTER_COLUMNS) + "\n"
            "01646500,POTOMAC RIVER NEAR WASH,38.94977778,-77.12763889,MD,02070008,37.2,11560,USGS\n"
            f"01010000,{huge},46.7,-69.7,ME,,,,USGS\n"  # line 3
            f'01010070,"BIG BLACK RIVER {huge}\n'  # line 4: over the limit inside a quoted field ...
            'NEAR DEPOT MTN",46.89,-69.75,ME,,,,USGS\n'  # ... that ends on line 5
            "08MF005,FRASER RIVER AT HOPE,49.38055,-121.4514,BC,,,,EC\n"
        ).encode()
        + b"02037500,JAMES RIVER NR RICHMOND \xe9,37.56,-77.54,VA,02080205,,,USGS\n"  # line 7
        + b"02035000,JAMES RIVER AT \x00CARTERSVILLE,37.67,-78.08,VA,02080205,,,USGS\n"  # line 8: NUL
        + b"09EB001,YUKON RIVER AT DAWSON,64.07,-139.425,YT,,,,EC\n"
    )
    report = load_reference(session, data)
    session.commit()
    assert report.messages == [
        "hads_id_mappings.csv line 3, column 4: target_id holds the byte 0xff, which is not UTF-8",
        "master_stations.csv line 3, column 2: station_name is longer than the CSV field limit "
        "of 131072 characters",
        "master_stations.csv line 4, column 2: station_name is longer than the CSV field limit "
        "of 131072 characters",
        "master_stations.csv line 7, column 2: station_name holds the byte 0xe9, which is not UTF-8",
        "master_stations.csv line 8, column 2: station_name holds a NUL character",
    ]
    assert (report.mappings.rows_read, report.mappings.inserted, report.mappings.skipped) == (3, 2, 1)
    assert (report.master_stations.rows_read, report.master_stations.inserted) == (7, 3)
    assert report.master_stations.skipped == 4
    stored = session.scalars(select(MasterStation.station_number).order_by(MasterStation.station_number))
    assert list(stored) == ["01646500", "08MF005", "09EB001"]
    assert list(session.scalars(select(StationMapping.source_id).order_by(StationMapping.source_id))) == [
        "01646500",
        "08CG001",
    ]
