"""forecast_runs: one row per (station, source, run_date) and the unit of its values.

Reason: a re-run of a forecast pull must never store the same issued forecast twice, and values
are only meaningful with their unit (NOAA publishes kcfs; we store cfs and say so).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forecast_runs") as batch:
        batch.add_column(sa.Column("unit", sa.String(10)))
        batch.create_unique_constraint("unique_forecast_run_idx", ["station_id", "source", "run_date"])


def downgrade() -> None:
    with op.batch_alter_table("forecast_runs") as batch:
        batch.drop_constraint("unique_forecast_run_idx", type_="unique")
        batch.drop_column("unit")
