"""an index the live tally counts from

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 08:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Counting a session's votes per strand, round and level reads this index alone, in order,
    # without visiting the table (see voting/tallies.py).
    op.create_index(
        "ix_votes_tally", "votes", ["session_id", "strand_key", "round", "level"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_votes_tally", table_name="votes")
