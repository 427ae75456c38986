"""votes recorded by hand: hand_counts, and each session's method

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hand_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("strand_key", sa.String(length=40), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["voting_sessions.id"],
            name=op.f("fk_hand_counts_session_id_voting_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hand_counts")),
        sa.UniqueConstraint(
            "session_id",
            "strand_key",
            "round",
            "level",
            "method",
            name=op.f("uq_hand_counts_session_id_strand_key_round_level_method"),
        ),
    )
    with op.batch_alter_table("hand_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hand_counts_session_id"), ["session_id"], unique=False)
    with op.batch_alter_table("voting_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("method", sa.String(length=20), nullable=False, server_default="phones")
        )


def downgrade() -> None:
    with op.batch_alter_table("voting_sessions", schema=None) as batch_op:
        batch_op.drop_column("method")
    with op.batch_alter_table("hand_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hand_counts_session_id"))
    op.drop_table("hand_counts")
