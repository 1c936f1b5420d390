"""The migrations are the only way the schema is created; they and the models agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

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


def _diff(engine):
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def test_upgrade_downgrade_upgrade_and_models_match(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == "0006"
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
        for target in ("0005", "0004", "0003", "0002", "0001"):
            migrate.downgrade(engine, target)
            assert migrate.current_revision(engine) == target
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == "0006"
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
