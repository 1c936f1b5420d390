"""The `streamflow` command on SQLite and PostgreSQL: what a data ops person types."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from streamflow.cli import main
from streamflow.db.engine import session_scope
from streamflow.db.models import MasterStation, PullConfiguration, StationMapping


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def counts(engine):
    with session_scope(engine) as s:
        return {
            "mappings": s.execute(select(func.count()).select_from(StationMapping)).scalar(),
            "hads": s.execute(
                select(func.count()).select_from(StationMapping).where(
                    StationMapping.source_agency == "USGS", StationMapping.target_agency == "NOAA-HADS"
                )
            ).scalar(),
            "usgs": s.execute(select(func.count()).select_from(MasterStation).where(MasterStation.agency == "USGS")).scalar(),
            "ec": s.execute(select(func.count()).select_from(MasterStation).where(MasterStation.agency == "EC")).scalar(),
            "configs": s.execute(select(func.count()).select_from(PullConfiguration)).scalar(),
        }


def test_upgrade_load_reference_twice_search_and_create(empty_db_url, monkeypatch, capsys):
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", empty_db_url)
    from streamflow.db.engine import get_engine

    for _ in range(2):  # every command is safe to repeat
        code, out, _err = run(capsys, "db", "upgrade")
        assert code == 0 and "revision 0007" in out
        assert run(capsys, "db", "load-reference")[0] == 0
        numbers = counts(get_engine())
        assert numbers["hads"] >= 10_000 and numbers["usgs"] >= 8_000 and numbers["ec"] >= 1_500
        if _ == 0:
            first = numbers
    assert numbers == first

    code, out, _err = run(capsys, "stations", "search", "--state", "VA", "--huc", "02", "--json", "--limit", "500")
    found = json.loads(out)
    assert code == 0 and len(found) > 50
    assert all(s["state_code"] == "VA" and s["huc_code"].startswith("02") for s in found)

    code, out, _err = run(capsys, "config", "create", "--name", "Virginia daily", "--data-type", "daily_mean",
                          "--start", "2020-01-01", "--schedule", "daily", "--station", "01646500",
                          "--state", "VA", "--huc", "0208", "--limit", "3")
    assert code == 0, _err
    assert "with 4 station(s)" in out
    assert "the search matched 69 stations; the first 3 by station number are used (--limit)" in _err
    code, out, _err = run(capsys, "config", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["name"] == "Virginia daily" and listed["dag_id"] == f"streamflow_config_{listed['id']}"
    assert listed["stations"][0] == {"station_number": "01646500", "agency": None,
                                     "station_name": "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA"}
    assert run(capsys, "config", "disable", str(listed["id"]))[0] == 0
    code, out, _err = run(capsys, "config", "show", str(listed["id"]))
    assert json.loads(out)["is_enabled"] is False
    assert run(capsys, "config", "enable", str(listed["id"]))[0] == 0

    code, out, _ = run(capsys, "config", "examples")
    assert code == 0 and "created 6" in out
    code, out, _ = run(capsys, "config", "examples")
    assert "created 0" in out
    assert counts(get_engine())["configs"] == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data-type", "hourly_mean"], "invalid choice"),
        (["--start", "someday"], "not an ISO 8601 date"),
        (["--schedule", "61 * * * *"], "not a valid cron expression"),
        (["--station", "09999999"], "unknown station(s) 09999999"),
        (["--start", "2099-01-01"], "in the future"),
        (["--station", "XYZ", "--allow-unlisted"], "cannot tell the agency"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(db_url, capsys, args, message):
    from streamflow.db.engine import get_engine

    run(capsys, "db", "load-reference")
    base = ["config", "create", "--name", "bad", "--data-type", "daily_mean", "--start", "2020-01-01"]
    if "--station" not in args:
        base += ["--station", "01646500"]
    try:  # argparse refuses some arguments itself (SystemExit 2); our checks return 2
        code = main([*base, *args])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert counts(get_engine())["configs"] == 0


def test_station_search_says_how_many_matched_when_the_results_are_cut(db_url, capsys):
    code, out, err = run(capsys, "stations", "search", "--state", "MD")
    assert code == 0 and out.splitlines() == [out.splitlines()[0]]  # the header only
    assert "no station in the master list matches state 'MD' (the master list is empty: run " in err

    run(capsys, "db", "load-reference")
    code, out, err = run(capsys, "stations", "search", "--state", "VA", "--huc", "02")
    assert code == 0 and len(out.splitlines()) == 1 + 50  # header + the default limit
    assert "50 of 117 matching stations shown (ordered by station number); raise --limit to see more" in err
    code, out, err = run(capsys, "stations", "search", "--state", "va", "--huc", "02", "--limit", "500")
    assert code == 0 and len(out.splitlines()) == 1 + 117 and err.strip() == "117 station(s)"
    code, out, err = run(capsys, "stations", "search", "--state", "VA", "--huc", "02", "--json", "--limit", "10")
    assert code == 0 and len(json.loads(out)) == 10 and "10 of 117 matching stations shown" in err
    # The README's example: the Potomac gauges are in Maryland and West Virginia, not Virginia.
    code, out, err = run(capsys, "stations", "search", "--state", "MD", "--huc", "0207", "--text", "potomac", "--json")
    found = json.loads(out)
    assert code == 0 and len(found) == 8 and err.strip() == "8 station(s)"
    assert all(s["state_code"] == "MD" and "POTOMAC" in s["station_name"] for s in found)
    code, out, err = run(capsys, "stations", "search", "--state", "VA", "--text", "potomac")
    assert code == 0 and "no station in the master list matches state 'VA', text 'potomac'" in err
    assert "master list is empty" not in err


BAD_FILTERS = [
    (["--state", "XX"], "unknown state or province code 'XX': expected a US state or territory code"),
    (["--state", "Virginia"], "unknown state or province code 'Virginia'"),
    (["--huc", "021"], "malformed HUC '021': a hydrologic unit code is 2 to 12 digits, an even number"),
    (["--huc", "2"], "malformed HUC '2'"),
    (["--huc", "02a7"], "malformed HUC '02a7'"),
    (["--huc", "02070008000000"], "malformed HUC '02070008000000'"),
]


@pytest.mark.parametrize(("filters", "message"), BAD_FILTERS)
def test_station_search_refuses_an_unknown_state_or_a_malformed_huc(db_url, capsys, filters, message):
    code, out, err = run(capsys, "stations", "search", *filters)
    assert code == 2 and out == ""
    assert f"streamflow: error: {message}" in err
    code, out, err = run(capsys, "config", "create", "--name", "bad filters", "--data-type", "daily_mean",
                         "--start", "2020-01-01", "--station", "01646500", "--allow-unlisted", *filters)
    assert code == 2 and message in err
    from streamflow.db.engine import get_engine

    assert counts(get_engine())["configs"] == 0


def test_config_create_whose_search_matches_nothing_says_so_and_writes_nothing(db_url, capsys):
    from streamflow.db.engine import get_engine

    run(capsys, "db", "load-reference")
    base = ["config", "create", "--name", "nothing", "--data-type", "daily_mean", "--start", "2020-01-01"]
    for extra in ([], ["--station", "01646500"]):  # a --station beside an empty search is still refused
        code, out, err = run(capsys, *base, *extra, "--state", "VA", "--huc", "0207", "--text", "potomac")
        assert code == 2 and out == ""
        assert ("streamflow: error: no station in the master list matches state 'VA', HUC '0207', "
                "text 'potomac'; nothing created") in err
    assert counts(get_engine())["configs"] == 0


def test_known_state_codes_cover_the_master_list():
    import csv
    from pathlib import Path

    from streamflow.db.stations import REGION_CODES

    with (Path(__file__).resolve().parents[1] / "data" / "master_stations.csv").open(encoding="utf-8") as handle:
        used = {row["state_code"] for row in csv.DictReader(handle)} - {""}
    assert len(used) == 66 and used <= REGION_CODES


def test_unknown_configuration_and_unreachable_database(db_url, capsys, monkeypatch):
    code, _out, err = run(capsys, "config", "show", "42")
    assert code == 2 and "configuration 42 does not exist" in err
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    code, _out, err = run(capsys, "config", "list")
    assert code == 1 and "database error" in err


def test_console_script_and_module_entry_point(tmp_path):
    env = {**os.environ, "STREAMFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for command in ([os.path.join(os.path.dirname(sys.executable), "streamflow")], [sys.executable, "-m", "streamflow"]):
        result = subprocess.run([*command, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "revision 0007" in result.stdout


def _create(options: dict[str, str]) -> int:
    """`config create` of a listed-or-not station with ``options`` replacing the defaults."""
    argv = {"--name": "bad", "--data-type": "daily_mean", "--start": "2020-01-01", "--station": "01646500", **options}
    try:
        return main(["config", "create", "--allow-unlisted", *(part for item in argv.items() for part in item)])
    except SystemExit as exc:  # argparse refuses some arguments itself
        return exc.code


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"--start": "0001-01-01"}, "is before 1850-01-01"),
        ({"--start": "1849-12-31T23:59:59Z"}, "is before 1850-01-01"),
        ({"--start": "0001-01-01T00:00:00+14:00"}, "out of range"),
        ({"--start": "9999-12-31T23:00:00-14:00"}, "out of range"),
        ({"--start": "9999-12-31T00:00:00+14:00"}, "in the future"),
        ({"--schedule": "* * * * * *"}, "finer than a minute"),
        ({"--schedule": "0 0 30 2 *"}, "never fires"),
        ({"--schedule": "0 " + ",".join(str(h) for h in range(24)) + " * * *"}, "longer than 50 characters"),
        ({"--name": "x" * 10_000}, "name is longer than 100 characters"),
        ({"--description": "x" * 10_001}, "description is longer than 10,000 characters"),
        ({"--station": "1" * 60}, "at most 50 characters"),
        ({"--name": "evil\x1b[2J\x1b]8;;http://evil.example\x07name"}, "name contains control characters"),
    ],
)
def test_out_of_range_input_exits_2_with_a_message_and_writes_nothing(db_url, capsys, options, message):
    from streamflow.db.engine import get_engine

    assert _create(options) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert "\x1b" not in err and "\x07" not in err
    assert counts(get_engine())["configs"] == 0


def test_output_strips_terminal_escapes_from_stored_text(db_url, capsys):
    """A row written around validation (a hand edit) cannot drive the terminal through the CLI."""
    from datetime import datetime, timezone

    from streamflow.db import repository as repo
    from streamflow.db.engine import get_engine

    hostile = "Potomac\x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\rdaily\x9b31m"
    with session_scope(get_engine()) as s:
        config = repo.create_configuration(
            s, name=hostile[:100], description=hostile, data_type="daily_mean", data_strategy="append",
            pull_start_date=datetime(2020, 1, 1, tzinfo=timezone.utc), schedule_type="daily",
            stations=[{"station_number": "01646500"}],
        )
    for args in (["config", "list"], ["config", "show", str(config.id)]):
        code, out, err = run(capsys, *args)
        assert code == 0, err
        assert "Potomac" in out and "click" in out
        assert not any(c in out for c in "\x1b\x07\r\x9b"), repr(out)
