"""Downloads, of two kinds that are never mixed in one file (docs/privacy.md):

- for the board, safe to circulate: the summary CSV and the analysis JSON (and the workbook,
  voting/reporting/workbook.py), built only from `results.gather`, after disclosure control;
- raw data, programme team only: every vote with its participant's profile (CSV), and the
  assessment with every session's own counts (JSON).

Each file says which it is in the file itself: the first row of a CSV, a field of a JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from voting import analysis
from voting.assessments import framework_of
from voting.labels import METHOD_LABELS, rating_label
from voting.models import (
    Assessment,
    HandCount,
    Participant,
    StrandState,
    Vote,
    VotingSession,
    utcnow,
)
from voting.reporting import disclosure
from voting.tallies import in_current_round, joined_count, level_counts

if TYPE_CHECKING:
    from voting.reporting.results import GroupResult, Results, StrandResult

JSON_FORMAT = "maturity-voting/assessment@2"
RAW_JSON_FORMAT = "maturity-voting/assessment-raw@1"
FOR_THE_BOARD = (
    "For the board: safe to circulate. Figures of groups of fewer than {min_size} people, and "
    "any figure from which one could be worked out, are hidden."
)
RAW_DATA = (
    "Raw data, programme team only: every vote with what each participant said about "
    "themselves, small groups included. Do not circulate."
)
CSV_COLUMNS = (
    "assessment",
    "period",
    "session",
    "session_date",
    "forum_type",
    "session_locality",
    "strand_key",
    "strand",
    "round",
    "level",
    "level_number",
    "role",
    "sector",
    "participant_locality",
    "voted_at",
    "method",
)


def file_stem(assessment: Assessment) -> str:
    raw = f"{assessment.area}-{assessment.period}"
    return re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-") or f"assessment-{assessment.id}"


def _spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is prefixed with an apostrophe. Numbers
    are left alone: -0.5 is a number, and must stay one for whoever reads the file."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def vote_rows(
    db: Session, assessment: Assessment, session_id: int | None = None
) -> Iterator[dict[str, Any]]:
    """One row per current vote (each strand's current round), oldest session first."""
    framework = framework_of(assessment)
    query = (
        select(Vote, VotingSession, Participant)
        .join(VotingSession, VotingSession.id == Vote.session_id)
        .join(Participant, Participant.id == Vote.participant_id)
        .join(StrandState, in_current_round(Vote))
        .where(VotingSession.assessment_id == assessment.id)
        .order_by(VotingSession.id, Vote.strand_key, Vote.id)
    )
    if session_id is not None:
        query = query.where(Vote.session_id == session_id)
    for vote, session, participant in db.execute(query):
        strand = framework.strand(vote.strand_key)
        yield {
            "assessment": assessment.area,
            "period": assessment.period,
            "session": session.name,
            "session_date": session.held_on.isoformat() if session.held_on else "",
            "forum_type": session.forum_type,
            "session_locality": session.locality,
            "strand_key": vote.strand_key,
            "strand": strand.name if strand else vote.strand_key,
            "round": vote.round,
            "level": framework.level_name(vote.level),
            "level_number": vote.level,
            "role": participant.role or "",
            "sector": participant.sector or "",
            "participant_locality": participant.locality or "",
            "voted_at": vote.updated_at.isoformat(timespec="seconds") + "Z",
            "method": METHOD_LABELS["phones"],
        }
    yield from _hand_vote_rows(db, assessment, session_id)


def _hand_vote_rows(
    db: Session, assessment: Assessment, session_id: int | None
) -> Iterator[dict[str, Any]]:
    """Votes recorded by hand, one row per vote counted, marked with how they were cast; no
    profile, since nobody gave one."""
    framework = framework_of(assessment)
    query = (
        select(HandCount, VotingSession)
        .join(VotingSession, VotingSession.id == HandCount.session_id)
        .join(StrandState, in_current_round(HandCount))
        .where(VotingSession.assessment_id == assessment.id)
        .order_by(VotingSession.id, HandCount.strand_key, HandCount.id)
    )
    if session_id is not None:
        query = query.where(HandCount.session_id == session_id)
    for hand, session in db.execute(query):
        strand = framework.strand(hand.strand_key)
        row = {
            "assessment": assessment.area,
            "period": assessment.period,
            "session": session.name,
            "session_date": session.held_on.isoformat() if session.held_on else "",
            "forum_type": session.forum_type,
            "session_locality": session.locality,
            "strand_key": hand.strand_key,
            "strand": strand.name if strand else hand.strand_key,
            "round": hand.round,
            "level": framework.level_name(hand.level),
            "level_number": hand.level,
            "role": "",
            "sector": "",
            "participant_locality": "",
            "voted_at": hand.recorded_at.isoformat(timespec="seconds") + "Z",
            "method": METHOD_LABELS.get(hand.method, hand.method),
        }
        for _ in range(hand.count):
            yield row


def votes_csv(db: Session, assessment: Assessment, session_id: int | None = None) -> str:
    """Raw data, programme team only: the first row says so, the second names the columns."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([RAW_DATA])
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in vote_rows(db, assessment, session_id):
        writer.writerow({k: _spreadsheet_safe(v) for k, v in row.items()})
    return out.getvalue()


def assessment_document(
    db: Session, assessment: Assessment, hidden_comments: bool = True
) -> dict[str, Any]:
    """The assessment and its sessions; `hidden_comments` False leaves out comments the
    facilitator hid (every circulated output), True keeps them with the reason (raw data)."""
    framework = framework_of(assessment)
    levels = len(framework.levels)
    desk = {d.strand_key: d for d in assessment.desk_ratings}
    totals: dict[str, list[int]] = {s.key: [0] * levels for s in framework.strands}
    sessions = []
    for session in assessment.sessions:
        counts = level_counts(db, session.id, levels)
        states = {s.strand_key: s for s in session.strand_states}
        comments = _comments(db, session.id, hidden_comments)
        strands = []
        for key in session.strand_keys:
            strand_counts = counts.get(key, [0] * levels)
            totals[key] = [a + b for a, b in zip(totals[key], strand_counts, strict=True)]
            state = states.get(key)
            strands.append(
                {
                    "key": key,
                    "status": state.status if state else None,
                    "round": state.round if state else None,
                    "desk_revealed": state.revealed if state else False,
                    "counts": strand_counts,
                    "votes": sum(strand_counts),
                    "comments": comments.get(key, []),
                }
            )
        sessions.append(
            {
                "id": session.id,
                "name": session.name,
                "date": session.held_on.isoformat() if session.held_on else None,
                "forum_type": session.forum_type,
                "locality": session.locality,
                "pacing": session.pacing,
                "status": session.status,
                "participants": joined_count(db, session.id),
                "method": session.method,
                # Included in the strands' counts above.
                "hand_counts": _hand_counts(db, session.id),
                "strands": strands,
            }
        )
    return {
        "format": JSON_FORMAT,
        "exported_at": utcnow().isoformat(timespec="seconds") + "Z",
        "assessment": {
            "id": assessment.id,
            "area": assessment.area,
            "period": assessment.period,
            "localities": assessment.localities or [],
            "created_at": assessment.created_at.isoformat(timespec="seconds") + "Z",
        },
        "framework": framework.to_dict(),
        "desk_ratings": [
            {
                "strand": s.key,
                "level": desk[s.key].level if s.key in desk else None,
                "upper_level": desk[s.key].upper_level if s.key in desk else None,
                "label": rating_label(framework, desk.get(s.key)),
                "evidence": desk[s.key].evidence if s.key in desk else "",
                "sources": desk[s.key].sources if s.key in desk else "",
            }
            for s in framework.strands
        ],
        "sessions": sessions,
        "tallies": {key: {"counts": c, "votes": sum(c)} for key, c in totals.items()},
    }


def hidden_comments(db: Session, assessment_id: int) -> list[dict[str, Any]]:
    """The moderation record: every comment hidden from circulated outputs, and why."""
    rows = db.execute(
        select(Vote, VotingSession.name)
        .join(VotingSession, VotingSession.id == Vote.session_id)
        .where(VotingSession.assessment_id == assessment_id, Vote.comment_hidden_at.is_not(None))
        .order_by(Vote.comment_hidden_at, Vote.id)
    ).all()
    return [
        {
            "vote_id": vote.id,
            "session": name,
            "strand": vote.strand_key,
            "round": vote.round,
            "comment": vote.comment,
            "reason": vote.comment_hidden_reason,
            "hidden_at": vote.comment_hidden_at.isoformat(timespec="seconds") + "Z"
            if vote.comment_hidden_at
            else None,
        }
        for vote, name in rows
    ]


def _hand_counts(db: Session, session_id: int) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(HandCount)
        .join(StrandState, in_current_round(HandCount))
        .where(HandCount.session_id == session_id)
        .order_by(HandCount.strand_key, HandCount.level, HandCount.id)
    )
    return [
        {
            "strand": h.strand_key,
            "round": h.round,
            "level": h.level,
            "count": h.count,
            "method": h.method,
        }
        for h in rows
    ]


def _comments(db: Session, session_id: int, hidden: bool) -> dict[str, list[str]]:
    query = (
        select(Vote.strand_key, Vote.comment)
        .join(StrandState, in_current_round(Vote))
        .where(Vote.session_id == session_id, Vote.comment.is_not(None), Vote.comment != "")
        .order_by(Vote.id)
    )
    if not hidden:
        query = query.where(Vote.comment_hidden_at.is_(None))
    rows = db.execute(query).all()
    grouped: dict[str, list[str]] = {}
    for key, comment in rows:
        if comment:  # never None here (filtered above); the check tells the type checker
            grouped.setdefault(key, []).append(comment)
    return grouped


def raw_json_text(db: Session, assessment: Assessment) -> str:
    """Raw data, programme team only: the assessment with every session's own counts."""
    document = {"circulation": RAW_DATA, **assessment_document(db, assessment)}
    document["hidden_comments"] = hidden_comments(db, assessment.id)
    document["format"] = RAW_JSON_FORMAT
    return json.dumps(document, indent=2, ensure_ascii=False)


def board_document(db: Session, assessment: Assessment, results: Results) -> dict[str, Any]:
    """For the board: the assessment, its sessions without their counts (a session's counts
    and how many joined it are in the raw download only), and the analysis."""
    document = assessment_document(db, assessment, hidden_comments=False)
    for session in document["sessions"]:
        del session["participants"], session["hand_counts"]
        for strand in session["strands"]:
            del strand["counts"], strand["votes"]
    del document["tallies"]  # raw totals: the analysis has them, where they may be shown
    document["format"] = JSON_FORMAT
    document["analysis"] = analysis_document(results)
    return {"circulation": FOR_THE_BOARD.format(min_size=results.min_group_size), **document}


def assessment_json_text(db: Session, assessment: Assessment, min_group_size: int = 5) -> str:
    from voting.reporting.results import gather  # results builds on this module's helpers

    results = gather(db, assessment.id, min_group_size=min_group_size)
    assert results is not None  # the assessment was just read in this database session
    return json.dumps(board_document(db, assessment, results), indent=2, ensure_ascii=False)


def _pct(value: float | None) -> float | str:
    return "" if value is None else round(value, 1)


def _figure(value: float | None, digits: int = 3) -> float | str:
    # A number, rounded: written as a number in the CSV (never guarded as if it were text).
    return "" if value is None else round(value, digits)


def summary_rows(results: Results) -> list[dict[str, Any]]:
    """One row per strand with every figure of the analysis (see docs/analysis.md); a hidden
    strand has its key, names, ratings, the reason in `not_shown`, and no figure."""
    names = results.level_names
    rows = []
    for strand in results.strands:
        fig, cmp = strand.figures, strand.comparison
        shown = strand.hidden is None
        row: dict[str, Any] = {
            "strand_key": strand.key,
            "strand": strand.name,
            "desk_rating": strand.desk_label,
            "desk_evidence": strand.desk_evidence,
            "desk_sources": strand.desk_sources,
            "agreed_rating": strand.agreed_label,
            "votes": fig.n if shown else "",
        }
        # Named by the level's key, which is unique in its framework (two levels may share a
        # name) and a safe column name; the built-in models' keys are their names in lower case.
        levels = results.framework.levels
        for level, n, pct in zip(levels, fig.counts, fig.percentages, strict=True):
            row[f"n_{level.key}"] = n if shown else ""
            row[f"pct_{level.key}"] = _pct(pct if fig.n else None)
        row.update(
            {
                "median": analysis.level_label(fig.median, names) if fig.n else "",
                "modes": "/".join(names[m - 1] for m in fig.modes),
                "mean": _figure(fig.mean),
                "sd": _figure(fig.sd),
                "consensus": _figure(fig.consensus),
                "iqr": _figure(fig.iqr),
                "split": ("yes" if strand.splits_room else "no") if shown else "",
                "split_reason": strand.split_reason,
                "split_forums": "; ".join(strand.split_forums),
                "pct_below_desk": _pct(cmp.pct_below if cmp and fig.n else None),
                "pct_at_desk": _pct(cmp.pct_at if cmp and fig.n else None),
                "pct_above_desk": _pct(cmp.pct_above if cmp and fig.n else None),
                "gap_median_minus_desk": _figure(cmp.gap if cmp else None, 1),
                "forums": strand.forums_covering,
                "not_shown": disclosure.hidden_words(strand.hidden, results.min_group_size),
                "summary": strand.sentence,
                "next_steps": strand.next_steps,
            }
        )
        rows.append(row)
    return rows


def summary_csv(results: Results) -> str:
    """For the board: the first row says so, the second names the columns."""
    rows = summary_rows(results)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [FOR_THE_BOARD.format(min_size=results.min_group_size)]
    )
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _spreadsheet_safe(v) for k, v in row.items()})
    return out.getvalue()


def _group_document(g: GroupResult, min_size: int) -> dict[str, Any]:
    return {
        "label": g.label,
        "suppressed": g.suppressed,
        "not_shown": disclosure.hidden_words(g.hidden, min_size) or None,
        "n": g.n,
        "counts": None if g.counts is None else list(g.counts),
    }


def _strand_document(strand: StrandResult, names: tuple[str, ...], min_size: int) -> dict[str, Any]:
    fig = strand.figures
    shown = strand.hidden is None
    return {
        "suppressed": not shown,
        "not_shown": disclosure.hidden_words(strand.hidden, min_size) or None,
        "counts": list(fig.counts) if shown else None,
        "votes": fig.n if shown else None,
        "percentages": [round(p, 2) for p in fig.percentages] if shown else None,
        "median": fig.median,
        "median_label": analysis.level_label(fig.median, names) if shown else None,
        "modes": list(fig.modes),
        "mean": fig.mean,
        "sd": fig.sd,
        "consensus": fig.consensus,
        "q1": fig.q1,
        "q3": fig.q3,
        "iqr": fig.iqr,
        "split": strand.splits_room,
        "split_reason": strand.split_reason or None,
        "split_pooled": fig.split,
        "split_forums": list(strand.split_forums),
        "desk": strand.desk_label or None,
        "desk_evidence": strand.desk_evidence,
        "desk_sources": strand.desk_sources,
        "agreed": strand.agreed_label or None,
        "next_steps": strand.next_steps,
        "desk_comparison": None
        if strand.comparison is None
        else {
            "below": strand.comparison.below,
            "at": strand.comparison.at,
            "above": strand.comparison.above,
            "pct_below": strand.comparison.pct_below,
            "pct_at": strand.comparison.pct_at,
            "pct_above": strand.comparison.pct_above,
            "gap": strand.comparison.gap,
            "direction": strand.comparison.direction,
        },
        "summary": strand.sentence,
        "actions": [
            {"text": a.text, "owner": a.owner, "due": a.due or None, "status": a.status}
            for a in strand.actions
        ],
        "previous_actions": [
            {"text": a.text, "owner": a.owner, "status_then": a.status, "now": a.now or None}
            for a in strand.previous_actions
        ],
        "forums": [
            {
                "session_id": f.session_id,
                "name": f.name,
                "forum_type": f.forum_type,
                "suppressed": f.suppressed,
                "not_shown": disclosure.hidden_words(f.hidden, min_size) or None,
                "counts": None if f.suppressed else list(f.counts),
                "split": None if f.suppressed else f.figures.split,
            }
            for f in strand.forums
        ],
        "rounds": [
            {
                "label": label,
                "sentence": change.sentence,
                "before": list(change.before.counts),
                "after": list(change.after.counts),
            }
            for label, change in strand.rounds
        ],
        "segments": [
            {
                "attribute": seg.attribute,
                "groups": [_group_document(g, min_size) for g in seg.groups],
                "not_given": seg.not_given,
                "not_given_not_shown": disclosure.hidden_words(seg.not_given_hidden, min_size)
                or None,
                "test": {
                    "p_value": seg.test.p_value,
                    "statistic": seg.test.statistic,
                    "epsilon_squared": seg.test.epsilon_squared,
                    "sentence": seg.test.sentence,
                },
            }
            for seg in strand.segments
        ],
        "previous": None
        if strand.previous is None
        else {
            "assessment": strand.previous.label,
            "counts": list(strand.previous.counts),
            "median_change": strand.previous.median_change,
            "sentence": strand.previous.sentence,
        },
    }


def analysis_document(results: Results) -> dict[str, Any]:
    """The analysis part of the board JSON: per strand, the figures, the desk comparison, the
    forums, rounds and groups, after disclosure control exactly as on screen."""
    strands = {
        strand.key: _strand_document(strand, results.level_names, results.min_group_size)
        for strand in results.strands
    }
    return {
        "min_group_size": results.min_group_size,
        "strands": strands,
        "register": _register_document(results),
        "trend": [
            {
                "period": year.label,
                "strands": {
                    key: {"desk": d or None, "partners": m or None, "agreed": a or None}
                    for key, (d, m, a) in year.ratings.items()
                },
            }
            for year in results.trend
        ],
    }


def _register_document(results: Results) -> dict[str, Any] | None:
    register = results.register
    if register is None:
        return None
    return {
        "forums": [
            {
                "session_id": r.session_id,
                "name": r.name,
                "date": r.held_on or None,
                "kind": r.kind,
                "locality": r.locality,
                "method": r.method,
                "strands": list(r.strands),
                "joined": r.joined,
                "voted": r.voted,
                "not_shown": r.head_count_note or None,
                "sectors": list(r.sectors),
            }
            for r in register.rows
        ],
        "core_partners": list(register.core_partners),
        "core_partners_not_heard": list(register.not_heard),
    }
