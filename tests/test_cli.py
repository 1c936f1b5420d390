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
