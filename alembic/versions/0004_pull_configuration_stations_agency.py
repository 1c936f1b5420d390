"""pull_configuration_stations.agency: USGS or EC, inferred from the id when empty.

Reason: station numbers alone are ambiguous for a few id shapes; an explicit agency lets a
configuration say which service to ask.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pull_configuration_stations") as batch:
        batch.add_column(sa.Column("agency", sa.String(10)))


def downgrade() -> None:
    with op.batch_alter_table("pull_configuration_stations") as batch:
        batch.drop_column("agency")
