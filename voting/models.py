"""The database schema: typed SQLAlchemy 2.0 models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

FORUM_TYPES = ("strategic", "operational", "mixed")
PACINGS = ("live", "self_paced")
SESSION_STATUSES = ("draft", "running", "ended")
STRAND_STATUSES = ("pending", "open", "closed")
ROLE_LEVELS = ("strategic", "operational")
ACTION_STATUSES = ("planned", "under_way", "done", "dropped")
OPEN_ACTION_STATUSES = ("planned", "under_way")
# How a forum's votes were gathered: phones, or recorded by hand by the facilitator.
VOTE_METHODS = ("phones", "paper", "email", "show_of_hands", "survey")
HAND_METHODS = VOTE_METHODS[1:]


def utcnow() -> datetime:
    """Naive UTC, the one form every backend stores alike."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    # Every model here is mapped to a Table (not a join or a select): say so, so that code using
    # `Model.__table__` (upserts, backups) type-checks against Table's methods.
    __table__: ClassVar[Table]
    # Named constraints, so that migrations can find them again on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class AppSetting(Base):
    """Small key/value store for generated secrets (secret key, passphrase hash)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Facilitator(Base):
    """A named facilitator account beside the main one (the passphrase set at start-up), so
    that one deployment can serve several areas without any of them seeing another's data."""

    __tablename__ = "facilitators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    passphrase_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Login(Base):
    """A facilitator login, kept on the server so that it can be ended: by logging out,
    `voting reset-passphrase`, `voting logout-all`, removing its account, or lying idle. The
    browser's cookie holds a random token; only its SHA-256 is stored here, so reading this
    table does not give anyone a login."""

    __tablename__ = "logins"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # None: the main account (the passphrase set at start-up); a named account's logins go
    # with it.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("facilitators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Assessment(Base):
    """One area's exercise for one period, against a snapshot of one framework."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The account that owns it; None is the main account.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("facilitators.id", ondelete="RESTRICT"), index=True
    )
    area: Mapped[str] = mapped_column(String(120))
    period: Mapped[str] = mapped_column(String(60))
    framework_id: Mapped[str] = mapped_column(String(80))
    # A copy of the framework as it was when the assessment began, so that editing or removing
    # a framework file never rewrites a past assessment.
    framework: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Kept beside the framework so the vote path can check a level without reading the model.
    level_count: Mapped[int] = mapped_column(Integer)
    localities: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The sectors phones may choose and the core partners the register checks for; None keeps
    # the defaults of voting/labels.py.
    sectors: Mapped[list[str] | None] = mapped_column(JSON)
    core_partners: Mapped[list[str] | None] = mapped_column(JSON)
    # Raw votes of each session are deleted this many days after its date; totals are kept.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    desk_ratings: Mapped[list[DeskRating]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan", passive_deletes=True
    )
    agreed_ratings: Mapped[list[AgreedRating]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan", passive_deletes=True
    )
    sessions: Mapped[list[VotingSession]] = relationship(
        back_populates="assessment",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="VotingSession.id",
    )


class StrandRating:
    """What the desk and the agreed ratings share: one row per strand of an assessment, rated
    at a level or, with `upper_level`, split between two adjacent levels."""

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        # A function, so that each table gets a constraint object of its own.
        return (UniqueConstraint("assessment_id", "strand_key"),)

    # sort_order keeps the tables' column order as it always was: these first, each kind's own
    # text columns next, updated_at last.
    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True, sort_order=-1
    )
    strand_key: Mapped[str] = mapped_column(String(40), sort_order=-1)
    level: Mapped[int | None] = mapped_column(Integer, sort_order=-1)
    upper_level: Mapped[int | None] = mapped_column(Integer, sort_order=-1)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, sort_order=1
    )


class Action(Base):
    """One step of the partnership's action plan for a strand: who owns it, by when, and how
    it stands. A later assessment of the same area can carry over the open ones, keeping a link
    to the action they came from so that the report can say what happened to it."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    strand_key: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(120), default="")
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    carried_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("actions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DeskRating(StrandRating, Base):
    """The programme team's own rating of one strand, with its evidence and sources."""

    __tablename__ = "desk_ratings"

    evidence: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[str] = mapped_column(Text, default="")

    assessment: Mapped[Assessment] = relationship(back_populates="desk_ratings")


class AgreedRating(StrandRating, Base):
    """The rating a board agrees for a strand after the workshops, with the next steps."""

    __tablename__ = "agreed_ratings"

    next_steps: Mapped[str] = mapped_column(Text, default="")

    assessment: Mapped[Assessment] = relationship(back_populates="agreed_ratings")


class VotingSession(Base):
    """One workshop or forum: some strands of an assessment, a join code, live or self-paced."""

    __tablename__ = "voting_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    held_on: Mapped[date | None] = mapped_column(Date)
    forum_type: Mapped[str] = mapped_column(String(20), default="mixed")
    locality: Mapped[str] = mapped_column(String(80), default="")
    strand_keys: Mapped[list[str]] = mapped_column(JSON)
    pacing: Mapped[str] = mapped_column(String(20), default="live")
    closes_at: Mapped[datetime | None] = mapped_column(DateTime)
    collect_profile: Mapped[bool] = mapped_column(Boolean, default=False)
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    current_strand: Mapped[str | None] = mapped_column(String(40))
    # Results of the open strand on screen shown by the facilitator's "Show results"; moving to
    # another strand clears it (see voting/live/snapshots.py for the whole visibility rule).
    show_results: Mapped[bool] = mapped_column(Boolean, default=False)
    # The forum's main way of voting; hand counts carry their own method (a paper slip handed
    # in at a phone session is "paper").
    method: Mapped[str] = mapped_column(String(20), default="phones", server_default="phones")
    # The session setting "live bars while voting": counts of open strands go out as votes land.
    live_results: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The projector shows the full join screen (QR code, address, code) on demand.
    show_join: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the raw votes were deleted under the retention period (only totals remain).
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    assessment: Mapped[Assessment] = relationship(back_populates="sessions")
    strand_states: Mapped[list[StrandState]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )


class StrandState(Base):
    """Where one strand stands in one session: pending, open or closed; revealed or not."""

    __tablename__ = "strand_states"
    __table_args__ = (UniqueConstraint("session_id", "strand_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("voting_sessions.id", ondelete="CASCADE"), index=True
    )
    strand_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # Votes belong to a round, so that a re-vote after discussion keeps the first round.
    round: Mapped[int] = mapped_column(Integer, default=1)
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The desk team's evidence summary (never its rating) on the projector, put up by the
    # facilitator before voting opens so that partners weigh the same facts.
    evidence_shown: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    session: Mapped[VotingSession] = relationship(back_populates="strand_states")


class ArchivedTally(Base):
    """Votes per level kept for a session whose raw votes were deleted under the retention
    period: enough for every total and chart, nothing about any one participant."""

    __tablename__ = "archived_tallies"
    __table_args__ = (UniqueConstraint("session_id", "strand_key", "round", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("voting_sessions.id", ondelete="CASCADE"), index=True
    )
    strand_key: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


class HandCount(Base):
    """Votes recorded by hand for one level of one strand in one round of a forum: counted on
    paper forms, by email or by a show of hands, or one paper slip from a partner without a
    phone. They pool with the phones' votes in every result; nothing about who cast them."""

    __tablename__ = "hand_counts"
    __table_args__ = (UniqueConstraint("session_id", "strand_key", "round", "level", "method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("voting_sessions.id", ondelete="CASCADE"), index=True
    )
    strand_key: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Participant(Base):
    """An anonymous phone: a hashed random token and an optional self-described profile.

    No name, IP address or user agent is stored, by design.
    """

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("voting_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str | None] = mapped_column(String(20))
    sector: Mapped[str | None] = mapped_column(String(80))
    locality: Mapped[str | None] = mapped_column(String(80))
    profile_done: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class VoteFields:
    """What a vote and each entry of its history hold: whose level for which strand, in which
    round of which session, with the comment and the phone's own id for the vote."""

    # sort_order keeps the tables' column order as it always was: these first, then the time.
    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("voting_sessions.id", ondelete="CASCADE"), index=True, sort_order=-1
    )
    strand_key: Mapped[str] = mapped_column(String(40), sort_order=-1)
    round: Mapped[int] = mapped_column(Integer, default=1, sort_order=-1)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True, sort_order=-1
    )
    level: Mapped[int] = mapped_column(Integer, sort_order=-1)
    comment: Mapped[str | None] = mapped_column(Text, sort_order=-1)
    client_vote_id: Mapped[str | None] = mapped_column(String(64), sort_order=-1)


class Vote(VoteFields, Base):
    """A participant's current level for one strand in one round of one session."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("session_id", "strand_key", "round", "participant_id"),
        # The live tally counts from this index alone (voting/tallies.py).
        Index("ix_votes_tally", "session_id", "strand_key", "round", "level"),
    )

    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Moderation: a comment naming a family or a worker is kept out of every circulated output
    # (the vote still counts); the reason stays in the assessment's record and raw download.
    comment_hidden_reason: Mapped[str | None] = mapped_column(Text)
    comment_hidden_at: Mapped[datetime | None] = mapped_column(DateTime)


class VoteHistory(VoteFields, Base):
    """Every change to a vote, appended, so that nothing a participant said is overwritten."""

    __tablename__ = "vote_history"

    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
