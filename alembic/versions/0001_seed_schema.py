"""Seed schema: the nine tables with their original names, columns and unique indexes.

Types are the portable ones we use everywhere: timezone-aware timestamps, floats for measured
values (the seed's NUMERIC made every value a Decimal and slowed bulk writes), a 64-bit key on
discharge_observations (PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("station_number", sa.String(50), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("agency", sa.String(50), nullable=False),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("timezone", sa.String(50)),
        sa.Column("huc_code", sa.String(20)),
        sa.Column("basin", sa.String(100)),
        sa.Column("state", sa.String(50)),
        sa.Column("catchment_area", sa.Float()),
        sa.Column("years_of_record", sa.Float()),
        sa.Column("record_start_date", TS),
        sa.Column("record_end_date", TS),
        sa.Column("is_active", sa.Boolean()),
        sa.Column("last_updated", TS, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_stations"),
    )
    op.create_index("ix_stations_station_number", "stations", ["station_number"], unique=True)
    op.create_index("ix_stations_huc_code", "stations", ["huc_code"])
    op.create_index("ix_stations_state", "stations", ["state"])

    op.create_table(
        "discharge_observations",
        sa.Column("id", BIGPK, primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("discharge", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(10), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("quality_code", sa.String(10)),
        sa.PrimaryKeyConstraint("id", name="pk_discharge_observations"),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name="fk_discharge_observations_station_id_stations"
        ),
        sa.UniqueConstraint("station_id", "observed_at", "type", name="unique_observation_idx"),
    )
    op.create_index("ix_discharge_observations_station_id", "discharge_observations", ["station_id"])

    op.create_table(
        "forecast_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("run_date", TS, nullable=False),
        sa.Column("data", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("rmse", sa.Float()),
        sa.PrimaryKeyConstraint("id", name="pk_forecast_runs"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_forecast_runs_station_id_stations"),
    )
    op.create_index("ix_forecast_runs_station_id", "forecast_runs", ["station_id"])
    op.create_index("ix_forecast_runs_run_date", "forecast_runs", ["run_date"])
    op.create_index("idx_station_run_date", "forecast_runs", ["station_id", "run_date"])

    op.create_table(
        "pull_configurations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("data_type", sa.String(20), nullable=False),
        sa.Column("data_strategy", sa.String(20), nullable=False),
        sa.Column("pull_start_date", TS, nullable=False),
        sa.Column("is_enabled", sa.Boolean()),
        sa.Column("schedule_type", sa.String(20), nullable=False),
        sa.Column("schedule_value", sa.String(50)),
        sa.Column("last_run_at", TS),
        sa.Column("next_run_at", TS),
        sa.Column("created_at", TS, server_default=sa.func.now()),
        sa.Column("updated_at", TS, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_pull_configurations"),
    )

    op.create_table(
        "pull_configuration_stations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("station_number", sa.String(50), nullable=False),
        sa.Column("station_name", sa.Text()),
        sa.Column("huc_code", sa.String(20)),
        sa.Column("state", sa.String(50)),
        sa.PrimaryKeyConstraint("id", name="pk_pull_configuration_stations"),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["pull_configurations.id"],
            name="fk_pull_configuration_stations_config_id_pull_configurations",
        ),
    )
    op.create_index("ix_pull_configuration_stations_config_id", "pull_configuration_stations", ["config_id"])

    op.create_table(
        "data_pull_logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("records_processed", sa.Integer()),
        sa.Column("start_time", TS, nullable=False),
        sa.Column("end_time", TS),
        sa.Column("error_message", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_data_pull_logs"),
        sa.ForeignKeyConstraint(
            ["config_id"], ["pull_configurations.id"], name="fk_data_pull_logs_config_id_pull_configurations"
        ),
    )
    op.create_index("ix_data_pull_logs_config_id", "data_pull_logs", ["config_id"])
    op.create_index("idx_config_start_time", "data_pull_logs", ["config_id", "start_time"])

    op.create_table(
        "pull_station_progress",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("station_number", sa.String(50), nullable=False),
        sa.Column("last_successful_pull_date", TS),
        sa.Column("created_at", TS, server_default=sa.func.now()),
        sa.Column("updated_at", TS, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_pull_station_progress"),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["pull_configurations.id"],
            name="fk_pull_station_progress_config_id_pull_configurations",
        ),
        sa.UniqueConstraint("config_id", "station_number", name="unique_progress_idx"),
    )
    op.create_index("ix_pull_station_progress_config_id", "pull_station_progress", ["config_id"])

    op.create_table(
        "master_stations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("station_number", sa.String(50), nullable=False),
        sa.Column("station_name", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("state_code", sa.String(10)),
        sa.Column("huc_code", sa.String(20)),
        sa.Column("altitude_ft", sa.Float()),
        sa.Column("drainage_area_sqmi", sa.Float()),
        sa.Column("agency", sa.String(20)),
        sa.PrimaryKeyConstraint("id", name="pk_master_stations"),
    )
    op.create_index("ix_master_stations_station_number", "master_stations", ["station_number"], unique=True)
    op.create_index("ix_master_stations_state_code", "master_stations", ["state_code"])
    op.create_index("ix_master_stations_huc_code", "master_stations", ["huc_code"])

    op.create_table(
        "station_mappings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_agency", sa.String(50), nullable=False),
        sa.Column("source_id", sa.String(50), nullable=False),
        sa.Column("target_agency", sa.String(50), nullable=False),
        sa.Column("target_id", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_station_mappings"),
        sa.UniqueConstraint("source_agency", "source_id", "target_agency", name="unique_mapping_idx"),
    )
    op.create_index("ix_station_mappings_source_id", "station_mappings", ["source_id"])
    op.create_index("idx_source_lookup", "station_mappings", ["source_agency", "source_id"])


def downgrade() -> None:
    for table in (
        "station_mappings",
        "master_stations",
        "pull_station_progress",
        "data_pull_logs",
        "pull_configuration_stations",
        "pull_configurations",
        "forecast_runs",
        "discharge_observations",
        "stations",
    ):
        op.drop_table(table)
