"""What each screen may see, built fresh from the database.

Three audiences, three builders: phones (public session state, plus each phone's own votes),
the presenter (what the projector shows) and the console (everything). A desk rating reaches a
phone or the presenter only once revealed; counts only while results are shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.assessments import framework_of
from voting.colours import level_colours
from voting.frameworks import Framework, Strand
from voting.labels import DEFAULT_SECTORS, ROLE_CHOICES, rating_label
from voting.live.votes import current_votes, profile_of
from voting.models import DeskRating, Participant, StrandState, VotingSession, utcnow
from voting.tallies import LiveTally, joined_count, level_counts


@dataclass
class Loaded:
    session: VotingSession
    framework: Framework
    desk: dict[str, DeskRating]
    counts: dict[str, list[int]]
    joined: int


def load(db: Session, session_id: int) -> Loaded | None:
    session = db.get(VotingSession, session_id)
    if session is None:
        return None
    framework = framework_of(session.assessment)
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
        counts=level_counts(db, session_id, len(framework.levels)),
        joined=joined_count(db, session_id),
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def _session_header(loaded: Loaded) -> dict[str, Any]:
    s = loaded.session
    closed_by_time = s.closes_at is not None and utcnow() >= s.closes_at
    return {
        "id": s.id,
        "name": s.name,
        "code": s.join_code,
        "pacing": s.pacing,
        "status": "ended" if closed_by_time and s.pacing == "self_paced" else s.status,
        "closes_at": _iso(s.closes_at),
        "current": s.current_strand,
        "show_results": s.show_results,
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
            "status": state.status,
            "round": state.round,
            "desk": _desk(loaded, key) if state.revealed else None,
            "counts": counts if loaded.session.show_results else None,
        }
        for key, strand, state, counts in _session_strands(loaded)
    ]
    return {
        "session": _session_header(loaded),
        "levels": _levels(loaded.framework),
        "strands": strands,
        "profile": _profile_options(loaded) if loaded.session.collect_profile else None,
    }


def _profile_options(loaded: Loaded) -> dict[str, Any]:
    return {
        "roles": [{"value": k, "label": v} for k, v in ROLE_CHOICES.items()],
        "sectors": list(DEFAULT_SECTORS),
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
            "counts": counts if loaded.session.show_results else None,
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
    if audience == "presenter":
        return {
            "joined": tally.joined,
            "voted": {k: sum(v) for k, v in counts.items()},
            "counts": counts if tally.show_results else None,
        }
    if audience == "phones":
        return {"counts": counts} if tally.show_results else None
    raise ValueError(audience)
