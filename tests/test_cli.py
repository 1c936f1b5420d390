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
        assert code == 0 and "revision 0008" in out
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
    code, out, _err = run(capsys, "config", "show", str(listed["id"]), "--json")
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
        assert "revision 0008" in result.stdout


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


# --------------------------------------------------------------------------- update, clone, delete, validate


def _new_config(capsys, *extra: str, name: str = "Potomac daily", data_type: str = "daily_mean",
                stations: tuple[str, ...] = ("01646500",)) -> int:
    argv = ["config", "create", "--name", name, "--data-type", data_type, "--start", "2020-01-01", "--allow-unlisted"]
    code, out, err = run(capsys, *argv, *(part for s in stations for part in ("--station", s)), *extra)
    assert code == 0, err
    return int(out.split()[2])  # "created configuration N (DAG …)"


def _shown(capsys, config_id: int) -> dict:
    code, out, err = run(capsys, "config", "show", str(config_id), "--json")
    assert code == 0, err
    return json.loads(out)


def _exit(capsys, *args: str) -> tuple[int, str, str]:
    """Like ``run``, with argparse's own refusals (SystemExit 2) as an exit code."""
    try:
        return run(capsys, *args)
    except SystemExit as exc:
        out = capsys.readouterr()
        return exc.code, out.out, out.err


def _add_mapping(source_agency: str, source_id: str, target_agency: str, target_id: str) -> None:
    from streamflow.db.engine import get_engine

    with session_scope(get_engine()) as s:
        s.add(StationMapping(source_agency=source_agency, source_id=source_id, target_agency=target_agency,
                             target_id=target_id))


@pytest.mark.parametrize(
    ("args", "messages"),
    [
        (["--name", ""], ["configuration {id}: name is empty"]),
        (["--start", "2099-01-01", "--schedule", "0 0 30 2 *"],  # every problem, in one message
         ["pull_start_date 2099-01-01T00:00:00+00:00 is in the future", "never fires"]),
        (["--remove-station", "09999999"], ["configuration {id} has no station(s) 09999999; nothing updated"]),
        (["--remove-station", "01646500"], ["configuration {id}: no stations"]),
        (["--add-station", "09999999"], ["unknown station(s) 09999999: not in the master station list"]),
        (["--add-station", "XYZ", "--allow-unlisted"], ["station XYZ: cannot tell the agency"]),
        (["--data-type", "hourly_mean"], ["invalid choice"]),
        (["--enable", "--disable"], ["not allowed with argument"]),
        (["--description", "x" * 10_001], ["description is longer than 10,000 characters"]),
        ([], ["nothing to update in configuration {id}"]),
        (["--state", "MD", "--text", "nowhere at all"], ["no station in the master list matches", "nothing updated"]),
    ],
)
def test_config_update_refuses_bad_input_with_exit_2_and_changes_nothing(db_url, capsys, args, messages):
    config_id = _new_config(capsys)
    before = _shown(capsys, config_id)
    code, out, err = _exit(capsys, "config", "update", str(config_id), *args)
    assert code == 2 and out == ""
    for message in messages:
        assert message.format(id=config_id) in err, err
    assert _shown(capsys, config_id) == before
    code, _out, err = run(capsys, "config", "update", "999", "--name", "x")
    assert code == 2 and "configuration 999 does not exist" in err


def test_config_update_changes_every_field_and_adds_and_removes_stations(db_url, capsys):
    config_id = _new_config(capsys, "--description", "first")
    other = _new_config(capsys, name="Untouched")
    code, out, err = run(
        capsys, "config", "update", str(config_id), "--name", "Renamed", "--description", "second",
        "--data-type", "realtime_15min", "--strategy", "overwrite", "--start", "2021-06-01T12:00:00+02:00",
        "--schedule", "0 6 * * *", "--disable", "--add-station", "08MF005", "--add-station", "01013500",
        "--remove-station", "01646500", "--allow-unlisted",
    )
    assert code == 0, err
    assert (f"updated configuration {config_id} (DAG streamflow_config_{config_id}): data_pull_strategy"
            not in out)
    assert "stations +2 -1 (now 2)" in out and "the progress of removed stations is kept" in out
    shown = _shown(capsys, config_id)
    assert {k: shown[k] for k in ("name", "description", "data_type", "data_strategy", "pull_start_date",
                                   "schedule_type", "schedule_value", "is_enabled")} == {
        "name": "Renamed", "description": "second", "data_type": "realtime_15min", "data_strategy": "overwrite",
        "pull_start_date": "2021-06-01 10:00:00+00:00", "schedule_type": "cron", "schedule_value": "0 6 * * *",
        "is_enabled": False,
    }
    assert [s["station_number"] for s in shown["stations"]] == ["08MF005", "01013500"]
    assert shown["valid"] is True and shown["problems"] == []

    code, out, err = run(capsys, "config", "update", str(config_id), "--schedule", "hourly", "--description", "",
                         "--enable", "--add-station", "08MF005")
    assert code == 0, err
    assert "station 08MF005 is already in configuration" in err
    shown = _shown(capsys, config_id)
    assert (shown["schedule_type"], shown["schedule_value"], shown["description"], shown["is_enabled"]) == (
        "hourly", None, None, True)
    assert len(shown["stations"]) == 2
    assert _shown(capsys, other)["name"] == "Untouched"


def test_config_update_search_filters_add_the_stations_found(db_url, capsys):
    run(capsys, "db", "load-reference")
    config_id = _new_config(capsys)
    code, out, err = run(capsys, "config", "update", str(config_id), "--state", "MD", "--huc", "0207",
                         "--text", "potomac")
    assert code == 0, err
    assert "stations +7 -0 (now 8)" in out  # the search finds 8, one of them (01646500) is there already
    numbers = [s["station_number"] for s in _shown(capsys, config_id)["stations"]]
    assert numbers[0] == "01646500" and len(numbers) == len(set(numbers)) == 8
    code, _out, err = run(capsys, "config", "update", str(config_id), "--state", "MD", "--huc", "0207",
                          "--text", "potomac")
    assert code == 2 and "nothing to update" in err  # all of them are there already


def test_config_update_warns_when_progress_belongs_to_the_old_data_type(db_url, capsys):
    from datetime import datetime, timezone

    from streamflow.db import repository as repo
    from streamflow.db.engine import get_engine

    config_id = _new_config(capsys)
    with session_scope(get_engine()) as s:
        repo.advance_progress(s, config_id, "01646500", datetime(2024, 1, 1, tzinfo=timezone.utc))
    code, _out, err = run(capsys, "config", "update", str(config_id), "--data-type", "realtime_15min",
                          "--start", "2000-01-01")
    assert code == 0, err
    assert "the progress of 1 station(s) was recorded for daily_mean; append runs of realtime_15min resume" in err
    assert "pull_start_date moved earlier" in err and "full_refresh=true" in err


def test_forecast_configuration_without_a_noaa_mapping_is_refused_unless_allowed(db_url, capsys):
    from streamflow.db.engine import get_engine

    _add_mapping("USGS", "01646500", "NOAA-HADS", "BRKM2")
    _add_mapping("NOAA-HADS", "FTKM1", "USGS", "01013500")  # a reverse row counts too
    _add_mapping("USGS", "08MF005", "NOAA-HADS", "WRONG")  # a mapping of another agency's id does not
    base = ["config", "create", "--name", "RFC", "--data-type", "rfc_forecast", "--start", "2025-01-01",
            "--allow-unlisted", "--station", "01646500", "--station", "08MF005"]
    code, out, err = run(capsys, *base)
    assert code == 2 and out == ""
    assert ("rfc_forecast needs a NOAA-HADS mapping in station_mappings for every station; 1 of 2 station(s) "
            "have none, so every run would skip them: 08MF005") in err
    assert "nothing written (pass --allow-unmapped to accept such stations)" in err
    assert counts(get_engine())["configs"] == 0

    code, out, err = run(capsys, *base, "--allow-unmapped")
    assert code == 0 and "created configuration" in out
    assert "streamflow: warning: rfc_forecast needs a NOAA-HADS mapping" in err and "--allow-unmapped" in err
    allowed = int(out.split()[2])

    mapped = _new_config(capsys, name="RFC mapped", data_type="rfc_forecast", stations=("01646500", "01013500"))
    assert "warning" not in capsys.readouterr().err
    before = _shown(capsys, mapped)
    code, _out, err = run(capsys, "config", "update", str(mapped), "--add-station", "08MF005", "--allow-unlisted")
    assert code == 2 and "1 of 3 station(s) have none" in err and "08MF005" in err
    assert _shown(capsys, mapped) == before

    daily = _new_config(capsys, name="EC daily", stations=("08MF005",))
    code, _out, err = run(capsys, "config", "update", str(daily), "--data-type", "nwm_short_range")
    assert code == 2 and "nwm_short_range needs a NOAA-NWM or NOAA-HADS mapping" in err
    assert _shown(capsys, daily)["data_type"] == "daily_mean"
    _add_mapping("EC", "08MF005", "NOAA-NWM", "23986735")
    code, out, err = run(capsys, "config", "update", str(daily), "--data-type", "nwm_short_range")
    assert code == 0 and "warning" not in err, err
    code, out, err = run(capsys, "config", "update", str(mapped), "--add-station", "08MF005", "--allow-unlisted",
                         "--data-type", "nwm_medium_range")
    assert code == 0, err

    # accepted once is not accepted for good: every update of it says so again
    code, _out, err = run(capsys, "config", "update", str(allowed), "--name", "RFC renamed")
    assert code == 2 and "08MF005" in err and _shown(capsys, allowed)["name"] == "RFC"
    code, _out, err = run(capsys, "config", "update", str(allowed), "--name", "RFC", "--allow-unmapped")
    assert code == 0 and "streamflow: warning: rfc_forecast needs a NOAA-HADS mapping" in err

    # validate says so without failing (the factory builds the DAG; its runs skip the station)
    code, out, err = run(capsys, "config", "validate", str(allowed))
    assert code == 0 and f"configuration {allowed} 'RFC': valid" in out
    assert "warning: rfc_forecast needs a NOAA-HADS mapping" in out and "08MF005" in out
    code, out, _err = run(capsys, "config", "show", str(allowed))
    assert "warning      rfc_forecast needs a NOAA-HADS mapping" in out


def test_config_clone_copies_it_disabled(db_url, capsys):
    source = _new_config(capsys, "--description", "to copy", stations=("01646500", "08MF005"))
    code, out, err = run(capsys, "config", "clone", str(source))
    assert code == 0, err
    copy = int(out.split()[5])
    assert f"cloned configuration {source} into configuration {copy} 'Copy of Potomac daily'" in out
    assert "disabled" in out and f"streamflow config enable {copy}" in out
    original, cloned = _shown(capsys, source), _shown(capsys, copy)
    assert cloned["name"] == "Copy of Potomac daily" and cloned["is_enabled"] is False and original["is_enabled"]
    for key in ("description", "data_type", "data_strategy", "pull_start_date", "schedule_type", "stations"):
        assert cloned[key] == original[key], key
    code, out, err = run(capsys, "config", "clone", str(source), "--name", "Second copy")
    assert code == 0 and _shown(capsys, int(out.split()[5]))["name"] == "Second copy"

    from streamflow.db.engine import get_engine

    for name, message in (("", "name is empty"), ("x" * 101, "name is longer than 100 characters (101)")):
        code, out, err = run(capsys, "config", "clone", str(source), "--name", name)
        assert code == 2 and out == ""
        assert f"the copy of configuration {source} would be invalid: {message}; nothing created" in err
    assert counts(get_engine())["configs"] == 3
    code, _out, err = run(capsys, "config", "clone", "999")
    assert code == 2 and "configuration 999 does not exist" in err


def _history(config_id: int) -> tuple[int, int]:
    from streamflow.db.configurations import configuration_history
    from streamflow.db.engine import get_engine

    with session_scope(get_engine()) as s:
        history = configuration_history(s, config_id)
    return history.progress_rows, history.pull_log_rows


def _give_history(config_id: int, observations: int = 0) -> None:
    """Progress and two run log rows for the configuration; ``observations`` rows of 01646500."""
    from datetime import datetime, timedelta, timezone

    from streamflow.db import repository as repo
    from streamflow.db.engine import get_engine
    from streamflow.db.models import DischargeObservation

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with session_scope(get_engine()) as s:
        repo.advance_progress(s, config_id, "01646500", start)
        for run_id in ("manual__1", "manual__2"):
            repo.open_pull_log(s, config_id=config_id, dag_id=f"streamflow_config_{config_id}", dag_run_id=run_id,
                               stations_total=1, start_time=start)
        if observations:
            station_id = repo.ensure_station(s, "01646500", "USGS")
            s.add_all(DischargeObservation(station_id=station_id, observed_at=start + timedelta(days=day),
                                           discharge=100.0 + day, unit="cfs", type="daily_mean", quality_code="A")
                      for day in range(observations))


def _observations() -> int:
    from streamflow.db.engine import get_engine
    from streamflow.db.models import DischargeObservation

    with session_scope(get_engine()) as s:
        return s.execute(select(func.count()).select_from(DischargeObservation)).scalar()


def test_config_delete_keeps_history_unless_purge_and_never_touches_observations(db_url, capsys):
    ran = _new_config(capsys, name="Has history")
    fresh = _new_config(capsys, name="Never ran")
    neighbour = _new_config(capsys, name="Same station")
    _give_history(ran, observations=3)
    _give_history(neighbour)

    code, out, err = run(capsys, "config", "delete", str(ran), "--yes")
    assert code == 2
    assert f"configuration {ran} 'Has history' (DAG streamflow_config_{ran}), 1 station(s):" in out
    assert ("its progress (1 pull_station_progress row(s)) and run log (2 data_pull_logs row(s)) stay") in out
    assert "the observations and forecasts stored for its stations (3 row(s)) stay" in out
    assert "no configuration delete removes them" in out
    assert (f"the DAG streamflow_config_{ran} disappears after the DAG processor's next parse; its run history "
            f"stays in Airflow's metadata database until `airflow dags delete streamflow_config_{ran}`") in out
    assert "add --purge to delete them with it" in err and f"streamflow config disable {ran}" in err
    assert "nothing deleted" in err
    assert _shown(capsys, ran)["name"] == "Has history" and _history(ran) == (1, 2)

    code, out, err = run(capsys, "config", "delete", str(fresh))  # stdin is not a terminal, no --yes
    assert code == 2 and "refusing to delete without confirmation: stdin is not a terminal; add --yes" in err
    assert _shown(capsys, fresh)["name"] == "Never ran"
    code, out, err = run(capsys, "config", "delete", str(fresh), "--yes")
    assert code == 0 and f"deleted configuration {fresh}" in out
    assert run(capsys, "config", "show", str(fresh))[0] == 2

    code, out, err = run(capsys, "config", "delete", str(ran), "--purge", "--yes")
    assert code == 0, err
    assert "are deleted with it (--purge)" in out and f"deleted configuration {ran} with its progress and run log" in out
    assert run(capsys, "config", "show", str(ran))[0] == 2
    assert _history(ran) == (0, 0)
    assert _history(neighbour) == (1, 2) and _observations() == 3  # shared by station: never purged
    code, _out, err = run(capsys, "config", "delete", "999", "--yes")
    assert code == 2 and "configuration 999 does not exist" in err


def _delete_on_a_terminal(config_id: int, answer: bytes) -> subprocess.CompletedProcess:
    """``streamflow config delete`` with a pseudo-terminal as stdin, answering ``answer``."""
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "streamflow"), "config", "delete", str(config_id)],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        os.close(slave)
        os.write(master, answer)
        out, err = process.communicate(timeout=120)
    finally:
        os.close(master)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_config_delete_asks_for_confirmation_on_a_terminal(db_url, capsys):
    config_id = _new_config(capsys, name="Ask first")
    for answer in (b"n\n", b"\n", b"yes please\n"):
        result = _delete_on_a_terminal(config_id, answer)
        assert result.returncode == 1, result.stderr
        assert f"delete configuration {config_id} 'Ask first'? [y/N]" in result.stderr
        assert "not confirmed; nothing deleted" in result.stderr
        assert _shown(capsys, config_id)["name"] == "Ask first"
    result = _delete_on_a_terminal(config_id, b"y\n")
    assert result.returncode == 0, result.stderr
    assert f"deleted configuration {config_id}" in result.stdout
    assert run(capsys, "config", "show", str(config_id))[0] == 2


def test_config_validate_lists_every_problem_of_every_configuration(db_url, capsys):
    from datetime import datetime, timezone

    from streamflow.db import repository as repo
    from streamflow.db.engine import get_engine

    good = _new_config(capsys, name="Good")
    code, out, err = run(capsys, "config", "validate")
    assert code == 0 and out.strip() == f"configuration {good} 'Good': valid" and "1 configuration(s) valid" in err
    with session_scope(get_engine()) as s:  # rows written around validation (a hand edit)
        bad = repo.create_configuration(
            s, name="Hand edited", data_type="hourly_mean", data_strategy="append",
            pull_start_date=datetime(2099, 1, 1, tzinfo=timezone.utc), schedule_type="cron",
            stations=[{"station_number": "XYZ"}],
        ).id
        worse = repo.create_configuration(
            s, name="Also bad", data_type="daily_mean", data_strategy="sometimes",
            pull_start_date=datetime(2020, 1, 1, tzinfo=timezone.utc), schedule_type="daily",
            schedule_value="61 * * * *", stations=[{"station_number": "01646500"}],
        ).id
    code, out, err = run(capsys, "config", "validate")
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == f"configuration {good} 'Good': valid"
    assert lines[1] == f"configuration {bad} 'Hand edited': invalid, 4 problem(s):"
    assert lines[2:6] == [
        "  - data_type 'hourly_mean' is not one of: daily_mean, realtime_15min, rfc_forecast, nwm_short_range, "
        "nwm_medium_range, nwm_long_range",
        "  - pull_start_date 2099-01-01T00:00:00+00:00 is in the future",
        "  - schedule_type 'cron' needs a schedule_value (a cron expression)",
        "  - station XYZ: cannot tell the agency from the id (USGS ids are 8-15 digits, EC ids look like 08MF005); "
        "set the agency",
    ]
    assert lines[6] == f"configuration {worse} 'Also bad': invalid, 2 problem(s):"
    assert "data_strategy 'sometimes' is not one of: append, overwrite" in lines[7]
    assert "schedule_value '61 * * * *' is not a valid cron expression" in lines[8]
    assert "streamflow: error: 2 of 3 configuration(s) invalid" in err
    assert run(capsys, "config", "validate", str(good))[0] == 0
    code, out, _err = run(capsys, "config", "validate", str(worse))
    assert code == 2 and f"configuration {worse} 'Also bad': invalid" in out and "'Good'" not in out
    code, _out, err = run(capsys, "config", "validate", "999")
    assert code == 2 and "configuration 999 does not exist" in err

    code, out, err = run(capsys, "config", "list")
    assert code == 0 and "2 invalid configuration(s): see `streamflow config validate`" in err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows[str(good)][2] == "yes" and rows[str(bad)][2] == "no" and rows[str(worse)][2] == "no"
    listed = {c["id"]: c for c in json.loads(run(capsys, "config", "list", "--json")[1])}
    assert listed[good]["valid"] is True and listed[bad]["valid"] is False and len(listed[bad]["problems"]) == 4
    code, out, _err = run(capsys, "config", "show", str(bad))
    assert code == 0 and "  valid        no, 4 problem(s)" in out
    assert "    - schedule_type 'cron' needs a schedule_value (a cron expression)" in out


def test_config_list_shows_station_names_and_show_a_readable_summary(db_url, capsys):
    run(capsys, "db", "load-reference")
    code, out, err = run(capsys, "config", "create", "--name", "Maryland Potomac", "--data-type", "daily_mean",
                         "--start", "2020-01-01", "--state", "MD", "--huc", "0207", "--text", "potomac")
    assert code == 0, err
    config_id = int(out.split()[2])
    _give_history(config_id)
    code, out, err = run(capsys, "config", "list")
    header, row = out.splitlines()
    assert header.split() == ["id", "enabled", "valid", "data_type", "strategy", "schedule", "name", "stations"]
    assert row.split()[:6] == [str(config_id), "yes", "yes", "daily_mean", "append", "daily"]
    stations = row[header.index("stations"):]
    assert stations == "8: 01595000 NORTH BRANCH POTOMA..., 01595500 NORTH BRANCH POTOMA..., +6 more"

    code, out, err = run(capsys, "config", "show", str(config_id))
    assert code == 0, err
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    lines = out.splitlines()
    assert lines[0] == f"configuration {config_id}: Maryland Potomac"
    assert f"  DAG          streamflow_config_{config_id}" in lines
    assert "  valid        yes" in lines and "  schedule     daily" in lines
    assert "  start        2020-01-01 00:00 UTC" in lines
    assert "stations (8); progress = the latest instant stored" in lines
    assert any(line.startswith("  01595000        USGS  NORTH BRANCH POTOMAC RIVER AT STEYER, MD") and
               line.endswith("progress never") for line in lines)
    assert "recent runs (2, oldest first)" in lines
    assert any(line.startswith("  manual__2") and "running" in line for line in lines)
    shown = _shown(capsys, config_id)
    assert shown["progress"] == {"01646500": "2024-01-01 00:00:00+00:00"}
    assert [r["dag_run_id"] for r in shown["recent_runs"]] == ["manual__1", "manual__2"]
