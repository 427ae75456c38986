"""evidence slide: a strand's desk evidence can be put on the projector

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 01:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("strand_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("evidence_shown", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("strand_states", schema=None) as batch_op:
        batch_op.drop_column("evidence_shown")
