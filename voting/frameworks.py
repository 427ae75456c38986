"""Maturity models as data: load, validate and describe framework files (YAML or JSON).

A file is validated whole before anything uses it: a malformed one raises `FrameworkError`
naming the file, the field and what was expected, and nothing of it is loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BUILTIN_DIR = Path(__file__).parent / "data" / "frameworks"
DEFAULT_FRAMEWORK_ID = "early-help-2016"
MAX_FILE_BYTES = 512 * 1024
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MIN_LEVELS = 2
MAX_LEVELS = 7  # voting/colours.py has a colour for each level up to this many
MAX_STRANDS = 40
MAX_DESCRIPTORS = 20
# Guidance for whoever rates a strand: the toolkit gives each strand a subtitle, what it is
# measured by, and the local evidence to look for (Hertfordshire's workforce list runs to 18).
MAX_MEASURES = 12
MAX_LOOK_FOR = 40
GUIDANCE_ITEM_CHARS = 300
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class FrameworkError(ValueError):
    """A framework file that cannot be used, with the reason in words a facilitator can act on."""


@dataclass(frozen=True)
class Level:
    key: str
    name: str
    number: int  # 1 for the lowest level


@dataclass(frozen=True)
class Cell:
    summary: str
    descriptors: tuple[str, ...]


@dataclass(frozen=True)
class Strand:
    key: str
    number: str
    name: str
    purpose: str
    elements: tuple[str, ...]
    parent: str | None
    cells: dict[str, Cell]
    # Optional guidance (empty when a file has none): shown to the desk team and on the phones.
    subtitle: str = ""
    measures: tuple[str, ...] = ()
    look_for: tuple[str, ...] = ()

    @property
    def has_guidance(self) -> bool:
        return bool(self.subtitle or self.measures or self.look_for)

    @property
    def label(self) -> str:
        return f"{self.number}. {self.name}" if self.number else self.name


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    publisher: str
    published: str
    licence: str
    attribution: str
    levels: tuple[Level, ...]
    strands: tuple[Strand, ...]

    def strand(self, key: str) -> Strand | None:
        return next((s for s in self.strands if s.key == key), None)

    def level(self, number: int) -> Level | None:
        return self.levels[number - 1] if 1 <= number <= len(self.levels) else None

    def level_name(self, number: int | None) -> str:
        level = self.level(number) if number is not None else None
        return level.name if level else ""

    def to_dict(self) -> dict[str, Any]:
        """The plain form stored with an assessment; `parse` reads it back."""
        return {
            "id": self.id,
            "name": self.name,
            "publisher": self.publisher,
            "published": self.published,
            "licence": self.licence,
            "attribution": self.attribution,
            "levels": [{"key": lv.key, "name": lv.name} for lv in self.levels],
            "strands": [
                {
                    "key": s.key,
                    "number": s.number,
                    "name": s.name,
                    "purpose": s.purpose,
                    "elements": list(s.elements),
                    **({"parent": s.parent} if s.parent else {}),
                    **({"subtitle": s.subtitle} if s.subtitle else {}),
                    **({"measures": list(s.measures)} if s.measures else {}),
                    **({"look_for": list(s.look_for)} if s.look_for else {}),
                    "levels": {
                        k: {"summary": c.summary, "descriptors": list(c.descriptors)}
                        for k, c in s.cells.items()
                    },
                }
                for s in self.strands
            ],
        }


class _Checker:
    """Walks a parsed document, naming each field by its path for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, expected: str, got: Any) -> FrameworkError:
        shown = _describe(got)
        return FrameworkError(f"{self.source}: {path}: expected {expected}, got {shown}")

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "a mapping of named fields", value)
        return value

    def sequence(self, value: Any, path: str, least: int, most: int) -> list[Any]:
        if not isinstance(value, list) or not least <= len(value) <= most:
            raise self.fail(path, f"a list of {least} to {most} items", value)
        return value

    def text(self, value: Any, path: str, most: int, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or (required and not value.strip()) or len(value) > most:
            need = "a non-empty text" if required else "a text"
            raise self.fail(path, f"{need} of at most {most} characters", value)
        if _UNSTORABLE.search(value):
            # JSON can spell both ("\u0000", "\ud800"); PostgreSQL cannot store NUL, and a lone
            # surrogate cannot be encoded as UTF-8, so every page showing the text would fail.
            raise self.fail(path, "text without NUL or unpaired surrogate characters", value)
        return " ".join(value.split())

    def texts(self, value: Any, path: str, most_items: int, what: str) -> tuple[str, ...]:
        """An optional list of short texts: absent or empty is no items."""
        if value is None or value == []:
            return ()
        if not isinstance(value, list):
            raise self.fail(path, f"a list of {what} (up to {most_items} texts)", value)
        items = self.sequence(value, path, 0, most_items)
        return tuple(
            self.text(item, f"{path}[{j}]", GUIDANCE_ITEM_CHARS) for j, item in enumerate(items)
        )

    def key(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
            raise self.fail(path, "a key of lowercase letters, digits and hyphens (max 40)", value)
        return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"{len(value)} characters" if len(value) > 60 or not value.strip() else repr(value)
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def parse(document: Any, source: str = "framework") -> Framework:
    """Validate a parsed framework document and build the `Framework`, or raise FrameworkError."""
    check = _Checker(source)
    doc = check.mapping(document, "(top level)")
    fid = check.key(doc.get("id"), "id")
    raw_levels = check.sequence(doc.get("levels"), "levels", MIN_LEVELS, MAX_LEVELS)
    levels: list[Level] = []
    for i, raw in enumerate(raw_levels):
        item = check.mapping(raw, f"levels[{i}]")
        key = check.key(item.get("key"), f"levels[{i}].key")
        if any(lv.key == key for lv in levels):
            raise check.fail(f"levels[{i}].key", "a key not used by another level", key)
        levels.append(Level(key, check.text(item.get("name"), f"levels[{i}].name", 40), i + 1))
    raw_strands = check.sequence(doc.get("strands"), "strands", 1, MAX_STRANDS)
    strands: list[Strand] = []
    for i, raw in enumerate(raw_strands):
        strand = _parse_strand(check, raw, f"strands[{i}]", levels)
        if any(s.key == strand.key for s in strands):
            raise check.fail(f"strands[{i}].key", "a key not used by another strand", strand.key)
        strands.append(strand)
    return Framework(
        id=fid,
        name=check.text(doc.get("name"), "name", 160),
        publisher=check.text(doc.get("publisher"), "publisher", 160, required=False),
        published=check.text(doc.get("published"), "published", 40, required=False),
        licence=check.text(doc.get("licence"), "licence", 160, required=False),
        attribution=check.text(doc.get("attribution"), "attribution", 1000, required=False),
        levels=tuple(levels),
        strands=tuple(strands),
    )


def _parse_strand(check: _Checker, raw: Any, path: str, levels: list[Level]) -> Strand:
    item = check.mapping(raw, path)
    raw_elements = item.get("elements") or []
    elements = check.sequence(raw_elements, f"{path}.elements", 0, 12) if raw_elements else []
    cells_raw = check.mapping(item.get("levels"), f"{path}.levels")
    wanted = [lv.key for lv in levels]
    if sorted(map(str, cells_raw)) != sorted(wanted) or not all(
        isinstance(k, str) for k in cells_raw
    ):
        raise check.fail(f"{path}.levels", f"exactly the levels {', '.join(wanted)}", cells_raw)
    cells: dict[str, Cell] = {}
    for lv in levels:
        cell_path = f"{path}.levels.{lv.key}"
        cell = check.mapping(cells_raw[lv.key], cell_path)
        descriptors = check.sequence(
            cell.get("descriptors"), f"{cell_path}.descriptors", 1, MAX_DESCRIPTORS
        )
        cells[lv.key] = Cell(
            summary=check.text(cell.get("summary"), f"{cell_path}.summary", 200),
            descriptors=tuple(
                check.text(d, f"{cell_path}.descriptors[{j}]", 1000)
                for j, d in enumerate(descriptors)
            ),
        )
    parent = check.text(item.get("parent"), f"{path}.parent", 120, required=False)
    return Strand(
        key=check.key(item.get("key"), f"{path}.key"),
        number=check.text(item.get("number"), f"{path}.number", 8, required=False),
        name=check.text(item.get("name"), f"{path}.name", 120),
        purpose=check.text(item.get("purpose"), f"{path}.purpose", 400, required=False),
        elements=tuple(check.text(e, f"{path}.elements[{j}]", 120) for j, e in enumerate(elements)),
        parent=parent or None,
        cells=cells,
        subtitle=check.text(item.get("subtitle"), f"{path}.subtitle", 200, required=False),
        measures=check.texts(item.get("measures"), f"{path}.measures", MAX_MEASURES, "measures"),
        look_for=check.texts(
            item.get("look_for"), f"{path}.look_for", MAX_LOOK_FOR, "evidence to look for"
        ),
    )


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: they are what 'billion laughs' bombs are made of,
    and a framework file has no need of them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def load_text(text: str | bytes, source: str) -> Framework:
    """Parse YAML or JSON text (JSON is YAML's subset here, but read with json when it looks like
    JSON so that its errors point at the right place)."""
    if len(text) > MAX_FILE_BYTES:
        raise FrameworkError(f"{source}: the file is larger than {MAX_FILE_BYTES // 1024} KB")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameworkError(f"{source}: the file is not UTF-8 text") from exc
    try:
        if text.lstrip().startswith("{") or source.endswith(".json"):
            document = json.loads(text)
        else:
            document = yaml.load(text, Loader=_NoAliasLoader)
    except RecursionError as exc:
        raise FrameworkError(f"{source}: the file is nested too deeply") from exc
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise FrameworkError(f"{source}: not valid YAML or JSON: {exc}") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        # PyYAML builds dates and numbers as it reads: an impossible date, a number too long
        # for Python, or a misused tag surfaces here rather than as a YAMLError.
        raise FrameworkError(f"{source}: a value in the file cannot be read: {exc}") from exc
    try:
        return parse(document, source)
    except RecursionError as exc:
        raise FrameworkError(f"{source}: the file is nested too deeply") from exc


def load_file(path: Path) -> Framework:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FrameworkError(
                f"{path.name}: the file is larger than {MAX_FILE_BYTES // 1024} KB"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise FrameworkError(f"{path.name}: cannot be read ({exc.strerror})") from exc
    return load_text(data, path.name)


def discover(extra_dirs: list[str] | None = None) -> tuple[dict[str, Framework], list[str]]:
    """Every valid framework in the built-in folder and `extra_dirs`, and the errors of the rest.

    A broken file in a facilitator's own folder is reported, not fatal: the others still load.
    """
    found: dict[str, Framework] = {}
    errors: list[str] = []
    folders = [BUILTIN_DIR, *(Path(d) for d in extra_dirs or [])]
    for folder in folders:
        paths = sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml", ".json"))
        for path in paths:
            try:
                framework = load_file(path)
            except FrameworkError as exc:
                errors.append(str(exc))
                continue
            except Exception as exc:  # one odd file must never stop the app from starting
                errors.append(f"{path.name}: cannot be used ({type(exc).__name__}: {exc})")
                continue
            if framework.id in found:
                errors.append(f"{path.name}: id {framework.id!r} is already used by another file")
                continue
            found[framework.id] = framework
    return found, errors
