"""discharge_observations: drop the single-column index on station_id.

Reason: the unique index (station_id, observed_at, type) already serves every lookup by station
(its leading column), so the extra index only cost one more index insertion per written row
(measured in docs/benchmarks.md §1: faster bulk upserts with it gone).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_discharge_observations_station_id", table_name="discharge_observations")


def downgrade() -> None:
    op.create_index("ix_discharge_observations_station_id", "discharge_observations", ["station_id"])
