"""sectors and core partners per assessment

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sectors", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("core_partners", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_column("core_partners")
        batch_op.drop_column("sectors")
