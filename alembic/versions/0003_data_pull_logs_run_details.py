"""data_pull_logs: which Airflow run it belongs to and what happened per station.

Reason: an operator reading a failed run needs the DAG run it came from, how many stations
failed, and per station the window, rows fetched/written and the error.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_pull_logs") as batch:
        batch.add_column(sa.Column("dag_id", sa.String(250)))
        batch.add_column(sa.Column("dag_run_id", sa.String(250)))
        batch.add_column(sa.Column("stations_total", sa.Integer()))
        batch.add_column(sa.Column("stations_failed", sa.Integer()))
        batch.add_column(
            sa.Column("details", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"))
        )
    op.create_index("idx_pull_log_dag_run", "data_pull_logs", ["dag_id", "dag_run_id"])


def downgrade() -> None:
    op.drop_index("idx_pull_log_dag_run", table_name="data_pull_logs")
    with op.batch_alter_table("data_pull_logs") as batch:
        for column in ("details", "stations_failed", "stations_total", "dag_run_id", "dag_id"):
            batch.drop_column(column)
