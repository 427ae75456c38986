"""results visibility: the session setting "live bars while voting" and the join screen

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing sessions keep hidden-while-open results (the new default) and no join screen.
    with op.batch_alter_table("voting_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("live_results", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("show_join", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("voting_sessions", schema=None) as batch_op:
        batch_op.drop_column("show_join")
        batch_op.drop_column("live_results")
