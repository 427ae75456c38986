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
ROLE_CHOICES = {"strategic": "Strategic", "operational": "Operational"}
DEFAULT_SECTORS = (
    "Local authority children's services",
    "Local authority adult services",
    "Police",
    "Health",
    "Schools and education",
    "Housing",
    "DWP / Jobcentre Plus",
    "Probation",
    "Voluntary and community sector",
    "Other",
)


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
