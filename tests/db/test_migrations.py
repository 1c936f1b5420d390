"""The migrations are the only way the schema is created; they and the models agree."""

from __future__ import annotations

from functools import partial

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from streamflow.db import migrate
from streamflow.db.engine import make_engine
from streamflow.db.models import Base

SEED_TABLES = {
    "stations",
    "discharge_observations",
    "forecast_runs",
    "data_pull_logs",
    "pull_configurations",
    "pull_configuration_stations",
    "master_stations",
    "pull_station_progress",
    "station_mappings",
}


HEAD = "0008"

OBSERVATION_STATION_FK = "fk_discharge_observations_station_id_stations"
# Revision 0007 (ADR 0005): on PostgreSQL these enforce discharge_observations.station_id.
STATION_TRIGGERS = {
    ("discharge_observations", "streamflow_observations_station_check_insert"),
    ("discharge_observations", "streamflow_observations_station_check_update"),
    ("stations", "streamflow_stations_reference_check_delete"),
    ("stations", "streamflow_stations_reference_check_update"),
    ("stations", "streamflow_stations_reference_check_truncate"),
}


def _diff(engine):
    """What autogenerate would change, with the same object filter as alembic/env.py."""
    with engine.connect() as conn:
        opts = {
            "compare_type": True,
            "include_object": partial(migrate.include_object, dialect_name=conn.dialect.name),
        }
        return compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)


def _station_triggers(engine) -> set[tuple[str, str]]:
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND t.tgname LIKE 'streamflow_%'"
            )
        )
        return {tuple(r) for r in rows}


def _observation_fks(engine) -> set[str]:
    return {fk["name"] for fk in inspect(engine).get_foreign_keys("discharge_observations")}


def test_upgrade_downgrade_upgrade_and_models_match(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == HEAD
        assert SEED_TABLES <= set(inspect(engine).get_table_names())
        assert _diff(engine) == []

        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert not SEED_TABLES & set(inspect(engine).get_table_names())

        migrate.upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_each_revision_steps_down_and_up(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine)
        for target in ("0007", "0006", "0005", "0004", "0003", "0002", "0001"):
            migrate.downgrade(engine, target)
            assert migrate.current_revision(engine) == target
            if target == "0006":  # 0007 down: the declarative foreign key is back on every dialect
                assert OBSERVATION_STATION_FK in _observation_fks(engine)
                assert _station_triggers(engine) == set()
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_seed_unique_indexes_and_additions(db_url):
    engine = make_engine(db_url)
    insp = inspect(engine)

    def uniques(table):
        names = {u["name"]: tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
        names.update({i["name"]: tuple(i["column_names"]) for i in insp.get_indexes(table) if i["unique"]})
        return names

    assert uniques("discharge_observations")["unique_observation_idx"] == ("station_id", "observed_at", "type")
    assert uniques("pull_station_progress")["unique_progress_idx"] == ("config_id", "station_number")
    assert uniques("station_mappings")["unique_mapping_idx"] == ("source_agency", "source_id", "target_agency")
    assert uniques("forecast_runs")["unique_forecast_run_idx"] == ("station_id", "source", "run_date")
    assert ("station_number",) in uniques("stations").values()
    assert ("station_number",) in uniques("master_stations").values()
    columns = {c["name"] for c in insp.get_columns("data_pull_logs")}
    assert {"dag_id", "dag_run_id", "stations_total", "stations_failed", "details"} <= columns
    assert "agency" in {c["name"] for c in insp.get_columns("pull_configuration_stations")}
    assert "unit" in {c["name"] for c in insp.get_columns("forecast_runs")}
    # 0006: the unique index leads with station_id; no second index on it alone.
    assert "ix_discharge_observations_station_id" not in {i["name"] for i in insp.get_indexes("discharge_observations")}
    engine.dispose()


def test_observation_station_reference_enforced_per_dialect(db_url):
    """0007: PostgreSQL checks station_id with statement-level triggers; SQLite keeps the FK."""
    engine = make_engine(db_url)
    try:
        if engine.dialect.name == "postgresql":
            assert OBSERVATION_STATION_FK not in _observation_fks(engine)
            assert _station_triggers(engine) == STATION_TRIGGERS
        else:
            assert OBSERVATION_STATION_FK in _observation_fks(engine)
        # forecast_runs keeps its declarative foreign key everywhere.
        assert "fk_forecast_runs_station_id_stations" in {
            fk["name"] for fk in inspect(engine).get_foreign_keys("forecast_runs")
        }
    finally:
        engine.dispose()


def test_only_the_trigger_enforced_foreign_key_is_ignored(db_url):
    """The comparison filter hides exactly that FK on PostgreSQL: dropping another one shows up."""
    engine = make_engine(db_url)
    try:
        if engine.dialect.name == "sqlite":
            # The FK is declarative here, so the filter must not hide it when it is missing.
            keep = partial(migrate.include_object, dialect_name="sqlite")
            fk = next(c for c in Base.metadata.tables["discharge_observations"].foreign_key_constraints)
            assert keep(fk, fk.name, "foreign_key_constraint", False, None)
            return
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE forecast_runs DROP CONSTRAINT fk_forecast_runs_station_id_stations"))
        diff = _diff(engine)
        assert [(op[0], op[1].name) for op in diff] == [("add_fk", "fk_forecast_runs_station_id_stations")]
    finally:
        engine.dispose()
