"""What each screen may see, built fresh from the database.

Three audiences, three builders: phones (public session state, plus each phone's own votes),
the presenter (what the projector shows) and the console (everything). A desk rating reaches a
phone or the presenter only once revealed; a strand's counts only once `results_visible` says
so, because a running tally on show while people vote anchors them as much as a desk rating.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from voting.assessments import framework_of
from voting.colours import level_colours
from voting.frameworks import Framework, Strand
from voting.labels import ROLE_CHOICES, rating_label, sector_choices
from voting.live.votes import current_votes, profile_of
from voting.models import Assessment, DeskRating, Participant, StrandState, VotingSession, utcnow
from voting.tallies import LiveTally, joined_count, level_counts


@dataclass
class Loaded:
    session: VotingSession
    framework: Framework
    desk: dict[str, DeskRating]
    counts: dict[str, list[int]]
    joined: int


def load(db: Session, session_id: int, *, count_joined: bool = True) -> Loaded | None:
    """`count_joined=False` for a phone's snapshot, which does not show how many have joined
    (`joined` is then 0): one count fewer for each of thousands of joins."""
    session = db.get(VotingSession, session_id)
    if session is None:
        return None
    # The assessment's stored copy of the framework (tens of KB of JSON) is read only when
    # `framework_of` has not parsed it already; the session's `assessment` is this object.
    assessment = db.get(Assessment, session.assessment_id, options=[defer(Assessment.framework)])
    assert assessment is not None  # a foreign key, and sessions go with their assessment
    framework = framework_of(assessment)
    desk = {
        d.strand_key: d
        for d in db.scalars(
            select(DeskRating).where(DeskRating.assessment_id == session.assessment_id)
        )
    }
    return Loaded(
        session=session,
        framework=framework,
        desk=desk,
        counts=level_counts(
            db,
            session_id,
            len(framework.levels),
            {state.strand_key: state.round for state in session.strand_states},
        ),
        joined=joined_count(db, session_id) if count_joined else 0,
    )


def session_ended(status: str, pacing: str, closes_at: datetime | None) -> bool:
    """Ended by the facilitator, or a self-paced session whose closing time has passed."""
    closed_by_time = closes_at is not None and utcnow() >= closes_at
    return status == "ended" or (closed_by_time and pacing == "self_paced")


def results_visible(
    key: str,
    status: str,
    *,
    ended: bool,
    pacing: str,
    current: str | None,
    show_results: bool,
    live_results: bool,
) -> bool:
    """Whether phones and the presenter may see a strand's counts (the console always does).

    A closed strand's distribution is shown; an open one's is hidden while people vote, unless
    the session's setting "live bars while voting" is on, or the facilitator pressed "Show
    results" for it (for the strand on screen; in a self-paced session, for all strands).
    A strand never opened has nothing to show. An ended session shows what was voted."""
    if status == "closed" or (ended and status == "open"):
        return True
    if status != "open":
        return False
    return live_results or (show_results and (pacing == "self_paced" or current == key))


def _loaded_visible(loaded: Loaded, key: str, state: StrandState) -> bool:
    s = loaded.session
    return results_visible(
        key,
        state.status,
        ended=session_ended(s.status, s.pacing, s.closes_at),
        pacing=s.pacing,
        current=s.current_strand,
        show_results=s.show_results,
        live_results=s.live_results,
    )


def _tally_visible(tally: LiveTally, key: str) -> bool:
    return results_visible(
        key,
        tally.statuses.get(key, "pending"),
        ended=session_ended(tally.status, tally.pacing, tally.closes_at),
        pacing=tally.pacing,
        current=tally.current,
        show_results=tally.show_results,
        live_results=tally.live_results,
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def _session_header(loaded: Loaded) -> dict[str, Any]:
    s = loaded.session
    return {
        "id": s.id,
        "name": s.name,
        "code": s.join_code,
        "pacing": s.pacing,
        "status": "ended" if session_ended(s.status, s.pacing, s.closes_at) else s.status,
        "closes_at": _iso(s.closes_at),
        "current": s.current_strand,
        "show_results": s.show_results,
        "live_results": s.live_results,
        "show_join": s.show_join,
    }


def _levels(framework: Framework) -> list[dict[str, Any]]:
    # Each level's bar colour travels with it, so the pages colour any number of levels the
    # way the charts and the workbook do, from voting/colours.py.
    colours = level_colours(len(framework.levels))
    return [
        {"number": lv.number, "key": lv.key, "name": lv.name, "colour": colour}
        for lv, colour in zip(framework.levels, colours, strict=True)
    ]


def _strand_content(framework: Framework, strand: Strand) -> dict[str, Any]:
    return {
        "key": strand.key,
        "number": strand.number,
        "name": strand.name,
        "label": strand.label,
        "purpose": strand.purpose,
        "cells": [
            {
                "summary": strand.cells[lv.key].summary,
                "descriptors": list(strand.cells[lv.key].descriptors),
            }
            for lv in framework.levels
        ],
    }


def _strand_guidance(strand: Strand) -> dict[str, Any]:
    """What the phone's "About this strand" panel adds to the purpose. Phones only: like the
    rest of the framework's text it goes out once, in the snapshot, never in lean broadcasts."""
    return {
        "subtitle": strand.subtitle,
        "measures": list(strand.measures),
        "look_for": list(strand.look_for),
    }


def _desk(loaded: Loaded, key: str) -> dict[str, Any] | None:
    rating = loaded.desk.get(key)
    if rating is None or rating.level is None:
        return None
    return {
        "level": rating.level,
        "upper_level": rating.upper_level,
        "label": rating_label(loaded.framework, rating),
    }


def _evidence(loaded: Loaded, key: str) -> dict[str, str] | None:
    """The evidence slide's words: evidence and sources, never the level."""
    rating = loaded.desk.get(key)
    if rating is None or not (rating.evidence or "").strip():
        return None
    return {"evidence": rating.evidence, "sources": rating.sources or ""}


def _counts(loaded: Loaded, key: str) -> list[int]:
    return loaded.counts.get(key, [0] * len(loaded.framework.levels))


def _session_strands(loaded: Loaded) -> Iterator[tuple[str, Strand, StrandState, list[int]]]:
    """Each strand of the session in order, with its state and current counts."""
    states = {s.strand_key: s for s in loaded.session.strand_states}
    for key in loaded.session.strand_keys:
        strand = loaded.framework.strand(key)
        state = states.get(key)
        if strand is not None and state is not None:
            yield key, strand, state, _counts(loaded, key)


def phone_state(loaded: Loaded) -> dict[str, Any]:
    """The public state every phone in the session shares."""
    strands = [
        {
            **_strand_content(loaded.framework, strand),
            **_strand_guidance(strand),
            **_phone_strand(loaded, key, state, counts),
        }
        for key, strand, state, counts in _session_strands(loaded)
    ]
    return {
        "session": _session_header(loaded),
        "levels": _levels(loaded.framework),
        "strands": strands,
        "profile": _profile_options(loaded) if loaded.session.collect_profile else None,
    }


def phone_changes(loaded: Loaded) -> dict[str, Any]:
    """`phone_state` without the framework's text (strand names, purposes, guidance, summaries
    and descriptors: most of its size), which no console action changes and
    which every phone received with its snapshot on connecting. Sent to every phone after each
    console action, marked `lean`; the phone takes the text from the snapshot it holds, by
    strand key, and the result is exactly the `phone_state` a reconnecting phone would get."""
    return {
        "lean": True,
        "session": _session_header(loaded),
        "levels": _levels(loaded.framework),
        "strands": [
            {"key": key, **_phone_strand(loaded, key, state, counts)}
            for key, _strand, state, counts in _session_strands(loaded)
        ],
        "profile": _profile_options(loaded) if loaded.session.collect_profile else None,
    }


def _phone_strand(
    loaded: Loaded, key: str, state: StrandState, counts: list[int]
) -> dict[str, Any]:
    """What a console action can change about one strand on the phones."""
    return {
        "status": state.status,
        "round": state.round,
        "desk": _desk(loaded, key) if state.revealed else None,
        "counts": counts if _loaded_visible(loaded, key, state) else None,
    }


def _profile_options(loaded: Loaded) -> dict[str, Any]:
    return {
        "roles": [{"value": k, "label": v} for k, v in ROLE_CHOICES.items()],
        "sectors": list(sector_choices(loaded.session.assessment.sectors)),
        "localities": list(loaded.session.assessment.localities or []),
    }


def new_phone_personal() -> dict[str, Any]:
    """`phone_personal` of a participant made moments ago: no votes, no profile yet."""
    return {
        "votes": {},
        "profile": {"role": None, "sector": None, "locality": None, "done": False},
    }


def phone_personal(db: Session, session_id: int, participant_id: int) -> dict[str, Any]:
    """What only this phone may see: its own votes and profile."""
    participant = db.get(Participant, participant_id)
    return {
        "votes": current_votes(db, session_id, participant_id),
        "profile": profile_of(participant) if participant else None,
    }


def presenter_state(loaded: Loaded) -> dict[str, Any]:
    strands = [
        {
            **_strand_content(loaded.framework, strand),
            "status": state.status,
            "round": state.round,
            "voted": sum(counts),
            "counts": counts if _loaded_visible(loaded, key, state) else None,
            "desk": _desk(loaded, key) if state.revealed else None,
            "evidence": _evidence(loaded, key) if state.evidence_shown else None,
        }
        for key, strand, state, counts in _session_strands(loaded)
    ]
    return {
        "session": _session_header(loaded),
        "levels": _levels(loaded.framework),
        "joined": loaded.joined,
        "strands": strands,
    }


def console_state(loaded: Loaded) -> dict[str, Any]:
    strands = [
        {
            "key": key,
            "label": strand.label,
            "name": strand.name,
            "status": state.status,
            "round": state.round,
            "revealed": state.revealed,
            "voted": sum(counts),
            "counts": counts,
            # What phones and the projector see of this strand's counts, for the console to say.
            "shown": _loaded_visible(loaded, key, state),
            "desk": _desk(loaded, key),
            "has_evidence": _evidence(loaded, key) is not None,
            "evidence_shown": state.evidence_shown,
        }
        for key, strand, state, counts in _session_strands(loaded)
    ]
    return {
        "session": _session_header(loaded),
        "levels": _levels(loaded.framework),
        "joined": loaded.joined,
        "strands": strands,
    }


def tally_update(tally: LiveTally, audience: str) -> dict[str, Any] | None:
    """The small message sent as votes arrive; None when this audience may not see counts."""
    counts = {k: tally.of(k) for k in tally.strand_keys}
    if audience == "console":
        return {
            "joined": tally.joined,
            "counts": counts,
            "voted": {k: sum(v) for k, v in counts.items()},
        }
    # Only open strands whose results are visible: a hidden strand's counts stay on the server,
    # and a closed strand's cannot change (its snapshot, sent on closing, already has them).
    visible = {
        k: v
        for k, v in counts.items()
        if tally.statuses.get(k) == "open" and _tally_visible(tally, k)
    }
    if audience == "presenter":
        return {
            "joined": tally.joined,
            "voted": {k: sum(v) for k, v in counts.items()},
            "counts": visible or None,
        }
    if audience == "phones":
        return {"counts": visible} if visible else None
    raise ValueError(audience)
