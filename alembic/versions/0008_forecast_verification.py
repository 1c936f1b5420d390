"""forecast_verifications: how good each forecast run was, per lead-time bin.

Reason: the database holds forecasts and observations of the same gauges, so it can score every
forecast (ADR 0013). One row per (forecast run, lead bin) — ``all`` is the whole run — with the
pair counts, RMSE, mean error, MAE, NSE, KGE, the persistence reference and the skill score, the
status (``complete`` once observations cover the horizon, ``partial`` before) and when it was
verified. Rows go with their run (ON DELETE CASCADE). ``forecast_runs.rmse`` (seed schema) holds
the whole run's RMSE.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from streamflow.db.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forecast_run_id", sa.Integer(), nullable=False),
        sa.Column("lead_bin", sa.String(20), nullable=False),
        sa.Column("lead_start_hours", sa.Integer(), nullable=False),
        sa.Column("lead_end_hours", sa.Integer(), nullable=False),
        sa.Column("observation_type", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(10), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("n_pairs", sa.Integer(), nullable=False),
        sa.Column("pairs_dropped", sa.Integer(), nullable=False),
        sa.Column("rmse", sa.Float(), nullable=True),
        sa.Column("mean_error", sa.Float(), nullable=True),
        sa.Column("mae", sa.Float(), nullable=True),
        sa.Column("nse", sa.Float(), nullable=True),
        sa.Column("kge", sa.Float(), nullable=True),
        sa.Column("persistence_rmse", sa.Float(), nullable=True),
        sa.Column("skill", sa.Float(), nullable=True),
        sa.Column("verified_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["forecast_run_id"], ["forecast_runs.id"],
            name="fk_forecast_verifications_forecast_run_id_forecast_runs", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_forecast_verifications"),
        sa.UniqueConstraint("forecast_run_id", "lead_bin", name="unique_forecast_verification_idx"),
    )


def downgrade() -> None:
    op.drop_table("forecast_verifications")
