"""station_mappings: index on (target_agency, target_id).

Reason: resolving a station in reverse (a NOAA LID back to the USGS or EC id) would scan the
~10,500-row table once per station without it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("idx_target_lookup", "station_mappings", ["target_agency", "target_id"])


def downgrade() -> None:
    op.drop_index("idx_target_lookup", table_name="station_mappings")
