"""Workshops as data: who joins a forum, what each phone says about itself and how it votes,
and a runner that plays one through the Socket.IO test clients exactly as phones and a console
would. The expected counts of a test are worked out from the same plans, independently of the
code under test.

REPORT_FORUMS is a realistic three-forum assessment with votes on all six strands; the report
test and the README screenshot (tests/screenshot_report.py) both use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import control, make_session, phone, screen, vote

STRANDS = (
    "family-experience",
    "leadership",
    "strategy",
    "culture",
    "workforce-development",
    "delivery",
)
LEVEL_NAMES = ("Early", "Developing", "Maturing", "Mature")
LA_CHILDREN = "Local authority children's services"


@dataclass(frozen=True)
class Profile:
    role: str | None = None
    sector: str | None = None
    locality: str | None = None

    def payload(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (("role", self.role), ("sector", self.sector), ("locality", self.locality))
            if v
        }


@dataclass(frozen=True)
class ForumPlan:
    name: str
    forum_type: str
    locality: str
    # One profile per phone; None for a phone that skips the questions about itself.
    profiles: tuple[Profile | None, ...]
    # Strand key -> the level each phone votes, phone 0 first (None: that phone does not vote).
    # The session covers exactly these strands, in this order.
    votes: dict[str, tuple[int | None, ...]]
    # Strand key -> levels of a second round after discussion (the first is kept, not counted).
    revotes: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    # Strand key -> {phone index: comment sent with that phone's (last) vote}.
    comments: dict[str, dict[int, str]] = field(default_factory=dict)
    held_on: date = date(2017, 6, 14)

    @property
    def collect_profile(self) -> bool:
        return any(p is not None for p in self.profiles)

    def current(self, strand: str) -> tuple[int | None, ...]:
        """The levels that count: the last round's."""
        return self.revotes.get(strand, self.votes[strand])

    def counts(self, strand: str, levels: int = 4) -> list[int]:
        counts = [0] * levels
        if strand in self.votes:
            for level in self.current(strand):
                if level is not None:
                    counts[level - 1] += 1
        return counts


def total_counts(plans: Iterable[ForumPlan], strand: str, levels: int = 4) -> list[int]:
    total = [0] * levels
    for plan in plans:
        total = [a + b for a, b in zip(total, plan.counts(strand, levels), strict=True)]
    return total


def current_votes(plans: Iterable[ForumPlan]) -> int:
    return sum(sum(total_counts([p], s)) for p in plans for s in p.votes)


def run_forum(app: Flask, facilitator: FlaskClient, assessment_id: int, plan: ForumPlan) -> int:
    """Create the session, join every phone, answer the profiles and vote strand by strand
    (opening a strand closes the one before); returns the session id."""
    session = make_session(
        app,
        assessment_id,
        name=plan.name,
        held_on=plan.held_on,
        forum_type=plan.forum_type,
        locality=plan.locality,
        strand_keys=list(plan.votes),
        collect_profile=plan.collect_profile,
    )
    console = screen(app, facilitator, "console", session.id)
    phones = [phone(app, session.join_code) for _ in plan.profiles]
    for p, profile in zip(phones, plan.profiles, strict=True):
        if profile is not None:
            ack = p.emit("profile", profile.payload(), callback=True)
            assert ack["ok"], ack
    for strand, levels in plan.votes.items():
        _vote_round(console, phones, strand, levels, plan.comments.get(strand, {}), "open")
        if strand in plan.revotes:
            assert control(console, action="close", strand=strand)["ok"]
            comments = plan.comments.get(strand, {})
            _vote_round(console, phones, strand, plan.revotes[strand], comments, "revote")
    for p in [*phones, console]:
        p.disconnect()
    return session.id


def _vote_round(
    console: Any,
    phones: list[Any],
    strand: str,
    levels: tuple[int | None, ...],
    comments: dict[int, str],
    action: str,
) -> None:
    ack = control(console, action=action, strand=strand)
    assert ack["ok"], ack
    for index, (p, level) in enumerate(zip(phones, levels, strict=False)):
        if level is None:
            continue
        extra = {"comment": comments[index]} if index in comments else {}
        ack = vote(p, strand, level, **extra)
        assert ack["ok"], ack


# --------------------------------------------------------------------------------------------
# A realistic assessment: three forums of a county, votes on every strand.

REPORT_DESK = {
    "family-experience": "2",
    "leadership": "3",
    "strategy": "2-3",
    "culture": "2",
    "workforce-development": "2",
    "delivery": "1-2",
}
REPORT_AGREED = {
    "family-experience": (
        "2",
        "Pilot one family plan shared by every agency in two districts by March.",
    ),
    "leadership": ("3", "Board to review demand data each quarter."),
    "strategy": ("2-3", "Publish the early help strategy with partners' commitments."),
    "culture": (
        "2",
        "Workshops for the two camps to compare examples; revisit at the next forum.",
    ),
    "workforce-development": ("2", "Joint induction for new staff across agencies."),
    "delivery": ("2", "Map the front doors and agree one referral route."),
}


def _profiles() -> tuple[Profile | None, ...]:
    sectors = (LA_CHILDREN, "Health", "Police", "Schools and education", "Housing")
    return tuple(
        Profile(
            role="strategic" if i % 3 == 0 else "operational",
            sector=sectors[i % len(sectors)],
            locality="Stevenage" if i % 2 else "Dacorum",
        )
        for i in range(14)
    )


REPORT_FORUMS = (
    ForumPlan(
        name="Countywide partnership conference",
        forum_type="mixed",
        locality="",
        profiles=_profiles(),
        votes={
            "family-experience": (2, 2, 1, 2, 3, 2, 2, 1, 2, 3, 2, 2, 1, 2),
            "leadership": (3, 3, 4, 3, 2, 3, 3, 4, 3, 3, 2, 3, 3, 4),
            "strategy": (2, 2, 3, 2, 3, 3, 2, 1, 2, 3, 2, 2, 3, 2),
            # The room splits: district teams see Early, the strategic leads near-Mature.
            "culture": (4, 1, 1, 4, 1, 1, 4, 1, 3, 4, 1, 4, 1, 4),
            "workforce-development": (2, 1, 2, 2, 1, 2, 3, 2, 2, 1, 2, 2, 2, 2),
            "delivery": (1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 2, 1),
        },
        revotes={"strategy": (2, 3, 3, 2, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2)},
        comments={
            "family-experience": {
                1: "Families still tell their story to three services before anyone joins up.",
                4: "Where a lead worker is named, families notice the difference.",
            },
            "culture": {
                0: "Senior leaders talk about whole-family working in every meeting.",
                1: "On the ground we still close cases and pass families on.",
            },
            "delivery": {2: "No single front door yet: three referral routes for one family."},
        },
    ),
    ForumPlan(
        name="Stevenage operational team meeting",
        forum_type="operational",
        locality="Stevenage",
        profiles=(
            *(
                Profile(role="operational", sector=s, locality="Stevenage")
                for s in (LA_CHILDREN, LA_CHILDREN, "Health", "Housing", "Police", LA_CHILDREN)
            ),
            None,
            None,
        ),
        votes={
            "family-experience": (1, 2, 1, 1, 2, 2, 1, 2),
            "culture": (1, 1, 4, 1, 4, 1, 1, 4),
            "workforce-development": (1, 2, 1, 2, 2, 1, 2, 2),
            "delivery": (1, 1, 2, 1, 1, 2, 1, 1),
        },
        comments={
            "workforce-development": {0: "Training is still agency by agency."},
            "family-experience": {2: "Waiting lists mean families get passed between us."},
        },
        held_on=date(2017, 6, 21),
    ),
    ForumPlan(
        name="Children's safeguarding board",
        forum_type="strategic",
        locality="",
        profiles=tuple(
            Profile(role="strategic", sector=s)
            for s in (
                LA_CHILDREN,
                "Health",
                "Police",
                "Schools and education",
                "Probation",
                "Voluntary and community sector",
            )
        ),
        votes={
            "leadership": (3, 4, 3, 3, 3, 4),
            "strategy": (3, 3, 2, 3, 3, 3),
            "culture": (3, 4, 3, 4, 3, 3),
            "delivery": (2, 2, 1, 2, 2, 2),
        },
        comments={"leadership": {1: "The board owns the early help strategy."}},
        held_on=date(2017, 7, 5),
    ),
)
