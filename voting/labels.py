"""The words shown for stored choices: kinds of forum, role levels, sectors, and ratings.

One place for them, so that the pages, the phones and every download say the same thing.
"""

from __future__ import annotations

from typing import Protocol

from voting.frameworks import Framework

FORUM_LABELS = {"strategic": "Strategic", "operational": "Operational", "mixed": "Mixed"}
# How a forum's votes were gathered (models.VOTE_METHODS).
METHOD_LABELS = {
    "phones": "Phones",
    "paper": "Paper",
    "email": "Email",
    "show_of_hands": "Show of hands",
    "survey": "Online survey",
}
ACTION_STATUS_LABELS = {
    "planned": "Planned",
    "under_way": "Under way",
    "done": "Done",
    "dropped": "Dropped",
}
ROLE_CHOICES = {"strategic": "Strategic", "operational": "Operational"}
# What phones may choose as their sector or agency, unless an assessment sets its own list. It
# includes the core partners the national toolkit expects in every area, and the council teams
# it names beside them (youth offending, community safety, public health).
DEFAULT_SECTORS = (
    "Local authority children's services",
    "Local authority adult services",
    "Youth offending",
    "Community safety",
    "Public health",
    "Police",
    "Health",
    "Schools and education",
    "Housing",
    "DWP / Jobcentre Plus",
    "Probation",
    "Community rehabilitation company",
    "Voluntary and community sector",
    "Elected members",
    "Other",
)
# The toolkit's core partners, as sectors of the list above: whose absence the forum register
# points out, unless an assessment sets its own list.
DEFAULT_CORE_PARTNERS = (
    "Police",
    "DWP / Jobcentre Plus",
    "Health",
    "Schools and education",
    "Housing",
    "Community rehabilitation company",
    "Voluntary and community sector",
)


def sector_choices(stored: list[str] | None) -> tuple[str, ...]:
    """An assessment's sectors: its own list, or the default one."""
    return tuple(stored) if stored else DEFAULT_SECTORS


def core_partners(stored: list[str] | None) -> tuple[str, ...]:
    """An assessment's core partners: its own list, or the toolkit's."""
    return tuple(stored) if stored is not None else DEFAULT_CORE_PARTNERS


class Rating(Protocol):
    """A desk or agreed rating: a level, or a split between it and the next one up."""

    level: int | None
    upper_level: int | None


def rating_label(framework: Framework, rating: Rating | None) -> str:
    """'Developing', or 'Developing/Maturing' for a split rating; '' when not rated."""
    if rating is None or rating.level is None:
        return ""
    label = framework.level_name(rating.level)
    if rating.upper_level:
        label += "/" + framework.level_name(rating.upper_level)
    return label
