"""Frameworks with other numbers of levels than the national model's four, for the tests that run
a workshop on 2, 3, 5, 6 or 7 levels end to end (tests/test_levels.py, and the five-level browser
test in tests/test_browser.py)."""

from __future__ import annotations

from typing import Any

import yaml

# Level names per scale size: none of them the national model's words alone, so a page that
# still said "Early" or "Mature" where it should name this framework's levels would show it.
LEVEL_NAMES: dict[int, tuple[str, ...]] = {
    2: ("Not yet", "In place"),
    3: ("Starting", "Growing", "Embedded"),
    5: ("Absent", "Emerging", "Established", "Strong", "Leading"),
    6: ("Absent", "Emerging", "Partial", "Established", "Strong", "Leading"),
    7: ("Absent", "Emerging", "Partial", "Established", "Strong", "Leading", "Exemplary"),
}
STRANDS = (("shared-plan", "One family plan"), ("workforce", "A shared workforce"))


def level_keys(levels: int) -> list[str]:
    return [name.lower().replace(" ", "-") for name in LEVEL_NAMES[levels]]


def framework_document(levels: int) -> dict[str, Any]:
    """A valid framework with `levels` levels and two strands."""
    names = LEVEL_NAMES[levels]
    keys = level_keys(levels)
    return {
        "id": f"local-{levels}-levels",
        "name": f"Local model on {levels} levels",
        "attribution": "A test framework.",
        "levels": [{"key": k, "name": n} for k, n in zip(keys, names, strict=True)],
        "strands": [
            {
                "key": key,
                "number": str(i),
                "name": name,
                "levels": {
                    k: {"summary": f"{name}: {n.lower()}", "descriptors": [f"{n} in {name}."]}
                    for k, n in zip(keys, names, strict=True)
                },
            }
            for i, (key, name) in enumerate(STRANDS, start=1)
        ],
    }


def framework_yaml(levels: int) -> bytes:
    return yaml.safe_dump(framework_document(levels), sort_keys=False).encode()


def planned_votes(levels: int) -> list[int]:
    """One level per phone: level k gets k + 1 votes, so every level has a count of its own
    and the forum is never below the minimum group size of 5."""
    return [level for level in range(1, levels + 1) for _ in range(level + 1)]
