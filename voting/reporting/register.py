"""The forum register (Hertfordshire's Appendix 2): every forum of an assessment with its date,
kind, locality, how it voted, the strands it covered, how many joined and voted, and which
sectors took part, against the assessment's core partners.

How many joined and voted are head counts of a forum, so they follow the disclosure step: a
forum with fewer people than the minimum group size says "fewer than N", and one whose votes
on any strand are hidden says "not shown", since its head count could give a hidden cell away.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from voting.frameworks import Framework
from voting.labels import FORUM_LABELS, METHOD_LABELS, core_partners
from voting.models import Assessment, HandCount, Participant, StrandState, Vote, VotingSession
from voting.tallies import in_current_round


@dataclass(frozen=True)
class RegisterRow:
    session_id: int
    name: str
    held_on: str  # ISO date, or ""
    kind: str
    locality: str
    method: str  # "Phones", "Show of hands", "Phones and paper"...
    strands: tuple[str, ...]  # strand numbers (or names where unnumbered)
    joined: int | None  # None when not shown
    voted: int | None
    head_count_note: str  # "", "fewer than 5 people" or "not shown"
    sectors: tuple[str, ...]


@dataclass(frozen=True)
class Register:
    rows: list[RegisterRow]
    core_partners: tuple[str, ...]
    # Core partners with nobody in any forum: who was not heard.
    not_heard: tuple[str, ...]


def _methods(session: VotingSession, by_hand: set[str]) -> str:
    methods = [session.method, *sorted(m for m in by_hand if m != session.method)]
    return " and ".join(METHOD_LABELS.get(m, m) for m in methods).capitalize()


def forum_register(
    db: Session,
    assessment: Assessment,
    framework: Framework,
    sessions: list[VotingSession],
    hidden_forums: set[int],
    min_size: int,
) -> Register:
    ids = [s.id for s in sessions]
    joined = dict(
        db.execute(
            select(Participant.session_id, func.count())
            .where(Participant.session_id.in_(ids))
            .group_by(Participant.session_id)
        ).all()
    )
    voters = dict(
        db.execute(
            select(Vote.session_id, func.count(distinct(Vote.participant_id)))
            .join(StrandState, in_current_round(Vote))
            .where(Vote.session_id.in_(ids))
            .group_by(Vote.session_id)
        ).all()
    )
    sectors: dict[int, set[str]] = defaultdict(set)
    for sid, sector in db.execute(
        select(Participant.session_id, Participant.sector)
        .where(Participant.session_id.in_(ids), Participant.sector.is_not(None))
        .distinct()
    ):
        if sector:
            sectors[sid].add(sector)
    # People counted by hand: each strand is counted on its own, so the largest strand's count
    # is how many took part at least.
    by_hand: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    methods: dict[int, set[str]] = defaultdict(set)
    for sid, key, method, n in db.execute(
        select(HandCount.session_id, HandCount.strand_key, HandCount.method, HandCount.count)
        .join(StrandState, in_current_round(HandCount))
        .where(HandCount.session_id.in_(ids))
    ):
        by_hand[sid][key] += n
        methods[sid].add(method)
    order = {s.key: i for i, s in enumerate(framework.strands)}
    rows = []
    for session in sorted(sessions, key=lambda s: (s.held_on is None, s.held_on, s.id)):
        hand_people = max(by_hand[session.id].values(), default=0)
        people = joined.get(session.id, 0) + hand_people
        voted = voters.get(session.id, 0) + hand_people
        note = ""
        if 0 < people < min_size:
            note = f"fewer than {min_size} people"
        elif session.id in hidden_forums:
            note = "not shown"
        strands = tuple(
            (framework.strand(k).number or framework.strand(k).name)  # type: ignore[union-attr]
            for k in sorted(session.strand_keys, key=lambda k: order.get(k, 99))
            if framework.strand(k) is not None
        )
        rows.append(
            RegisterRow(
                session_id=session.id,
                name=session.name,
                held_on=session.held_on.isoformat() if session.held_on else "",
                kind=FORUM_LABELS.get(session.forum_type, session.forum_type),
                locality=session.locality or "",
                method=_methods(session, methods[session.id]),
                strands=strands,
                joined=None if note else people,
                voted=None if note else voted,
                head_count_note=note,
                sectors=tuple(sorted(sectors[session.id])),
            )
        )
    core = core_partners(assessment.core_partners)
    heard = set().union(*(set(r.sectors) for r in rows)) if rows else set()
    return Register(rows, core, tuple(p for p in core if p not in heard))
