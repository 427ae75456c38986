"""Checking what clients send: every refusal carries a message for the one who sent it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
_RATING = re.compile(r"([0-9]{1,2})(?:-([0-9]{1,2}))?")
# NUL, which PostgreSQL cannot store in text, and lone UTF-16 surrogates, which JSON lets a client
# send ("\ud800") but no database driver can encode: refused here, not failing in the driver.
_NOT_ALLOWED = re.compile("[\x00\ud800-\udfff]")


class Refusal(Exception):
    """A request that changes nothing, with a message the sender can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def as_payload(data: Any, what: str = "The request") -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Refusal(f"{what} must be an object with named fields.")
    return data


def text_field(
    data: dict[str, Any],
    name: str,
    label: str,
    *,
    max_length: int,
    required: bool = True,
    choices: Iterable[str] | None = None,
) -> str:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Refusal(f"Enter {label}.")
        return ""
    if not isinstance(value, str):
        raise Refusal(f"{label[0].upper()}{label[1:]} must be text.")
    value = value.strip()
    if len(value) > max_length:
        raise Refusal(f"{label[0].upper()}{label[1:]} must be {max_length} characters or fewer.")
    if _NOT_ALLOWED.search(value):
        raise Refusal(f"{label[0].upper()}{label[1:]} contains a character that is not allowed.")
    if choices is not None and value not in set(choices):
        raise Refusal(f"Choose {label} from the list.")
    return value


def whole_number(data: dict[str, Any], name: str, label: str) -> int:
    """A whole number of any size (its range is for the caller, which knows it)."""
    value = data.get(name)
    # bool is an int in Python; a JSON true must not pass as level 1.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
            return int(value.strip())
        raise Refusal(f"{label[0].upper()}{label[1:]} must be a whole number.")
    return value


def int_field(data: dict[str, Any], name: str, label: str, *, low: int, high: int) -> int:
    value = whole_number(data, name, label)
    if not low <= value <= high:
        raise Refusal(f"{label[0].upper()}{label[1:]} must be between {low} and {high}.")
    return value


def bool_field(data: dict[str, Any], name: str, label: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise Refusal(f"{label[0].upper()}{label[1:]} must be true or false.")
    return value


def parse_rating(raw: str) -> tuple[int | None, int | None]:
    """A rating as a form sends it: "" (none), "2" (a level) or "2-3" (split across two)."""
    if not raw:
        return None, None
    # ASCII digits only, by pattern: str.isdigit() also passes "²", which int() then rejects,
    # and a partition let "2-" through as if it were "2".
    match = _RATING.fullmatch(raw)
    if match is None:
        raise Refusal("Choose each rating from its list.")
    low, high = match.groups()
    return int(low), (int(high) if high else None)
