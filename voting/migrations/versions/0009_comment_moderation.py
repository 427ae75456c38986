"""comment moderation: a comment hidden from circulated outputs, with the reason

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comment_hidden_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("comment_hidden_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_column("comment_hidden_at")
        batch_op.drop_column("comment_hidden_reason")
