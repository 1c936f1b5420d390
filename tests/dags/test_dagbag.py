"""The DAG file over a seeded database: zero import errors, one DAG per row, invalid rows isolated,
the snapshot fallback when the database is unreachable, and the worker's one-DAG build."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from streamflow.db import repository as repo
from streamflow.db.engine import dispose_engines, session_scope
from streamflow.db.models import PullConfiguration

UTC = timezone.utc
DAGS = Path(__file__).resolve().parents[2] / "dags"


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def seeded(engine):
    ids = {}
    with session_scope(engine) as s:
        for key, kwargs in {
            "usgs_daily": dict(data_type="daily_mean", schedule_type="daily", stations=["01646500", "02458502"]),
            "ec_realtime": dict(data_type="realtime_15min", schedule_type="hourly", stations=["08MF005"]),
            "broken": dict(data_type="daily_mean", schedule_type="cron", stations=["01646500"]),
            "disabled": dict(data_type="rfc_forecast", schedule_type="hourly", stations=["01646500"], is_enabled=False),
            "mixed": dict(data_type="daily_mean", schedule_type="manual", stations=["01646500", "08MF005"]),
        }.items():
            stations = [{"station_number": n} for n in kwargs.pop("stations")]
            config = repo.create_configuration(
                s, name=key, data_strategy="append", pull_start_date=datetime(2020, 1, 1, tzinfo=UTC),
                stations=stations, description=f"{key} description", **kwargs,
            )
            ids[key] = config.id
        # A row that escaped validation (written by hand): a cron type with a broken expression.
        s.execute(update(PullConfiguration).where(PullConfiguration.id == ids["broken"]).values(schedule_value="not cron"))
    return ids


def test_one_dag_per_row_and_broken_row_isolated(seeded):
    bag = _dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {f"streamflow_config_{i}" for i in seeded.values()} | {"streamflow_verification"}

    usgs = bag.dags[f"streamflow_config_{seeded['usgs_daily']}"]
    assert usgs.dag_display_name == "usgs_daily"
    assert usgs.description == "usgs_daily description"
    assert set(usgs.tags) == {"streamflow", "daily_mean", "append", "USGS"}
    assert usgs.max_active_runs == 1 and usgs.catchup is False
    assert usgs.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert {t.task_id for t in usgs.tasks} == {"plan", "pull_usgs", "finalize"}
    assert usgs.get_task("pull_usgs").pool == "usgs_api"
    assert [a.uri for a in usgs.get_task("pull_usgs").outlets] == ["streamflow://observations/daily_mean"]
    assert usgs.get_task("finalize").trigger_rule == "all_done"
    assert set(usgs.params.keys()) == {"stations", "start_date", "end_date", "data_strategy", "full_refresh"}

    ec = bag.dags[f"streamflow_config_{seeded['ec_realtime']}"]
    assert ec.get_task("pull_eccc").pool == "eccc_api"
    assert type(ec.timetable).__name__ == "CronTriggerTimetable" or "hourly" in str(ec.timetable.description).lower()

    mixed = bag.dags[f"streamflow_config_{seeded['mixed']}"]
    assert {t.task_id for t in mixed.tasks} == {"plan", "pull_usgs", "pull_eccc", "finalize"}
    assert type(mixed.timetable).__name__ == "NullTimetable"  # manual

    disabled = bag.dags[f"streamflow_config_{seeded['disabled']}"]
    assert "disabled" in disabled.tags
    assert type(disabled.timetable).__name__ == "NullTimetable"
    assert disabled.get_task("pull_noaa").pool == "noaa_api"
    assert disabled.dag_display_name == "disabled (disabled)"
    assert disabled.is_paused_upon_creation is True
    assert usgs.is_paused_upon_creation is None  # the deployment's default (paused at creation)
    assert {"NOAA", "rfc_forecast"} <= set(disabled.tags)  # forecasts name the service they pull
    assert "NOAA" not in usgs.tags
    assert "streamflow config delete" in usgs.doc_md and "wipes its run history" in usgs.doc_md

    broken = bag.dags[f"streamflow_config_{seeded['broken']}"]
    assert broken.owner == "streamflow"
    assert "streamflow config delete" in broken.doc_md
    assert "invalid" in broken.tags
    assert [t.task_id for t in broken.tasks] == ["invalid_configuration"]
    assert "not a valid cron expression" in broken.description


def test_invalid_dag_task_fails_with_the_reasons(seeded, airflow_db):
    bag = _dagbag()
    broken = bag.dags[f"streamflow_config_{seeded['broken']}"]
    run = broken.test()
    assert run.state == "failed"


def test_unreachable_database_builds_from_snapshot(seeded, monkeypatch, caplog):
    first = _dagbag()
    assert len(first.dag_ids) == 6  # 5 configurations + streamflow_verification
    dispose_engines()
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    with caplog.at_level(logging.WARNING):
        second = _dagbag()
    assert second.import_errors == {}
    assert set(second.dag_ids) == set(first.dag_ids)
    assert "from the snapshot" in caplog.text
    assert "invalid" in second.dags[f"streamflow_config_{seeded['broken']}"].tags


def test_unreachable_database_without_snapshot_gives_no_dags_and_no_error(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    monkeypatch.setenv("STREAMFLOW_SNAPSHOT_PATH", str(tmp_path / "none.json"))
    bag = _dagbag()
    assert bag.import_errors == {}
    assert bag.dag_ids == ["streamflow_verification"]  # needs no configuration


def test_worker_builds_only_the_dag_it_runs(seeded, engine, monkeypatch):
    from sqlalchemy import event

    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    wanted = f"streamflow_config_{seeded['ec_realtime']}"
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", wanted)
    bag = _dagbag()
    assert bag.dag_ids == [wanted]
    assert len([s for s in statements if "pull_configurations" in s]) == 1


# --------------------------------------------------------------------------- hostile rows

# Hand edits a database accepts, written with raw SQL around the CLI's validation. SQLite keeps
# any value in any column; PostgreSQL keeps the types but not our rules.
SQLITE_HOSTILE = {
    "blob description": "description = X'00FF10'",
    "blob name": "name = X'1B5B324A'",
    "integer schedule_value": "schedule_value = 5",
    "blob schedule_value": "schedule_value = X'2A'",
    "real data_type": "data_type = 1.5",
    "text start date": "pull_start_date = 'yesterday-ish'",
    "blob start date": "pull_start_date = X'01'",
    "integer start date": "pull_start_date = 12345",
}
POSTGRES_HOSTILE = {
    "year 1": "pull_start_date = '0001-01-01 00:00:00+00'",
    "after year 9999": "pull_start_date = '10000-01-01 13:00:00+00'",   # Python's datetime ends at 9999
    "BC": "pull_start_date = '0044-03-15 00:00:00+00 BC'",
    "six-field cron": "schedule_type = 'cron', schedule_value = '* * * * * *'",
    "never fires": "schedule_type = 'cron', schedule_value = '0 0 30 2 *'",
    "escape in name": "name = E'\\x1b[2Jwiped'",
}
STATION_HOSTILE = {
    "sqlite": ["station_number = X'3031'", "agency = 7", "station_name = X'FF'"],
    "postgresql": ["station_number = ''", "agency = 'NOAA'", "station_number = E'0164\\x1b6500'"],
}


def _hostile(engine) -> dict[str, int]:
    """Copies of a valid USGS row, each spoiled in one column by raw SQL; returns what → id."""
    from sqlalchemy import text

    dialect = engine.dialect.name
    spoil = {key: ("pull_configurations", "id", change)
             for key, change in (SQLITE_HOSTILE if dialect == "sqlite" else POSTGRES_HOSTILE).items()}
    spoil.update({f"station {change}": ("pull_configuration_stations", "config_id", change)
                  for change in STATION_HOSTILE[dialect]})
    ids = {}
    with session_scope(engine) as s:
        for key, (table, key_column, change) in spoil.items():
            config = repo.create_configuration(
                s, name=f"hostile {len(ids)}", data_type="daily_mean", data_strategy="append",
                pull_start_date=datetime(2020, 1, 1, tzinfo=UTC), schedule_type="daily",
                stations=[{"station_number": "01646500"}],
            )
            s.flush()
            ids[key] = config.id
            s.execute(text(f"UPDATE {table} SET {change} WHERE {key_column} = :id"), {"id": config.id})
    return ids


def test_hostile_rows_each_become_an_invalid_dag_and_hide_nothing(seeded, engine, caplog, monkeypatch):
    hostile = _hostile(engine)
    with caplog.at_level(logging.WARNING):
        bag = _dagbag()
    assert bag.import_errors == {}
    expected = {f"streamflow_config_{i}" for i in [*seeded.values(), *hostile.values()]} | {"streamflow_verification"}
    assert set(bag.dag_ids) == expected
    for key, config_id in hostile.items():
        dag = bag.dags[f"streamflow_config_{config_id}"]
        assert "invalid" in dag.tags, key
        assert [t.task_id for t in dag.tasks] == ["invalid_configuration"], key
        assert "\x1b" not in (dag.dag_display_name or "") + (dag.description or ""), key
    assert "invalid" not in bag.dags[f"streamflow_config_{seeded['usgs_daily']}"].tags
    assert "from the snapshot" not in caplog.text  # the database read itself succeeded

    # The snapshot written from those rows builds the same DAGs when the database is gone.
    dispose_engines()
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    fallback = _dagbag()
    assert set(fallback.dag_ids) == expected
    assert all("invalid" in fallback.dags[f"streamflow_config_{i}"].tags for i in hostile.values())


def test_hostile_row_alone_on_a_worker(seeded, engine, monkeypatch):
    hostile = _hostile(engine)
    wanted = f"streamflow_config_{next(iter(hostile.values()))}"
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", wanted)
    bag = _dagbag()
    assert bag.import_errors == {}
    assert bag.dag_ids == [wanted] and "invalid" in bag.dags[wanted].tags


def test_unwritable_snapshot_never_stops_the_dags(seeded, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("STREAMFLOW_SNAPSHOT_PATH", str(blocker / "snapshot.json"))
    bag = _dagbag()
    assert bag.import_errors == {}
    assert len(bag.dag_ids) == 6  # five configurations + streamflow_verification


def test_hostile_snapshot_rows_become_invalid_dags(monkeypatch, tmp_path):
    """After a fallback the rows come from JSON: any JSON value in any field, ids included."""
    import json

    good = dict(id=1, name="ok", description=None, data_type="daily_mean", data_strategy="append",
                pull_start_date="2020-01-01T00:00:00+00:00", is_enabled=True, schedule_type="daily",
                schedule_value=None, stations=[{"station_number": "01646500", "agency": "USGS"}])
    rows = [
        good,
        {**good, "id": 2, "pull_start_date": "0001-01-01T00:00:00+14:00"},   # offset overflows
        {**good, "id": 3, "pull_start_date": "9999-12-31T23:00:00-14:00"},   # offset overflows
        {**good, "id": 4, "schedule_value": ["* * * * *"]},
        {**good, "id": 5, "stations": [None, 3, {"station_number": {"a": 1}}]},
        {**good, "id": 6, "stations": "01646500"},
        {**good, "id": 7, "is_enabled": {"x": 1}, "name": 12},
        {**good, "id": "8; DROP"},
        "not a row",
    ]
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"version": 1, "configurations": rows}))
    monkeypatch.setenv("STREAMFLOW_SNAPSHOT_PATH", str(path))
    monkeypatch.setenv("STREAMFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    bag = _dagbag()
    assert bag.import_errors == {}
    assert "invalid" not in bag.dags["streamflow_config_1"].tags
    for config_id in range(2, 8):
        assert "invalid" in bag.dags[f"streamflow_config_{config_id}"].tags, config_id
    assert "invalid" in bag.dags["streamflow_config_unknown"].tags
    assert "out of range" in bag.dags["streamflow_config_2"].description


def test_year_one_under_a_negative_offset_session_time_zone(seeded, engine):
    """PostgreSQL whose sessions default to a negative offset: a year-1 start date still reads (as an
    invalid row) instead of failing the whole read and falling back to the snapshot."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL session setting")
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"ALTER DATABASE \"{engine.url.database}\" SET timezone = 'America/Denver'"))
    with session_scope(engine) as s:
        s.execute(text("UPDATE pull_configurations SET pull_start_date = '0001-01-01 00:00:00+00' WHERE id = :id"),
                  {"id": seeded["mixed"]})
    dispose_engines()
    bag = _dagbag()
    assert set(bag.dag_ids) == {f"streamflow_config_{i}" for i in seeded.values()} | {"streamflow_verification"}
    mixed = bag.dags[f"streamflow_config_{seeded['mixed']}"]
    assert "invalid" in mixed.tags and "before 1850-01-01" in mixed.description


def test_user_text_is_literal_in_the_docs_and_names_fit_airflow(engine):
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401 - the DAG file's environment

    from streamflow.factory import DISPLAY_NAME_MAX, build_dags

    hostile = "![x](http://e.vil/p.png) <img src=x onerror=alert(1)> [click](http://e.vil) **bold**"
    with session_scope(engine) as s:
        config = repo.create_configuration(
            s, name="x" * 95 + ".md", data_type="daily_mean", data_strategy="append",
            pull_start_date=datetime(2020, 1, 1, tzinfo=UTC), schedule_type="manual",
            stations=[{"station_number": "01646500"}, {"station_number": "README.md", "agency": "USGS"}],
            description=hostile + "\n# heading\n" + "y" * 400 + " /etc/passwd",
        )
        config_id = config.id
        rows = repo.load_configuration_rows(s)
    dag = build_dags(rows)[f"streamflow_config_{config_id}"]
    assert "invalid" not in dag.tags  # a station id ending in .md is not a file path
    assert not dag.doc_md.rstrip().endswith(")")
    import re

    unescaped = [r"(?<!\\)!(?<!\\)\[", r"(?<!\\)\]\(", r"(?<!\\)<", r"(?<!\\)\*\*"]
    for user_line in dag.doc_md.splitlines()[2:4]:  # the description's lines
        assert not any(re.search(pattern, user_line) for pattern in unescaped), user_line
    assert "\\!\\[x\\]\\(http\\:\\/\\/e\\.vil\\/p\\.png\\)" in dag.doc_md
    assert "\n\\# heading" in dag.doc_md
    assert "README\\.md" in dag.doc_md
    assert len(dag.dag_display_name) <= DISPLAY_NAME_MAX


def test_display_names_are_cut_to_airflows_limit():
    from streamflow.configurations import InvalidConfig
    from streamflow.factory import DISPLAY_NAME_MAX, build_invalid_dag, display_name

    assert display_name("a" * 5000, " (invalid)").endswith("… (invalid)")
    assert len(display_name("a" * 5000, " (invalid)")) == DISPLAY_NAME_MAX
    dag = build_invalid_dag(InvalidConfig(id=3, name="n" * 10_000, errors=("bad",)))
    assert len(dag.dag_display_name) == DISPLAY_NAME_MAX and dag.dag_display_name.endswith(" (invalid)")
