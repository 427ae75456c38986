"""Unit tests of voting/frameworks.py: the built-in maturity models, the file format's rules and
the error messages a facilitator sees, and that a broken file is never half-loaded."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from voting.frameworks import (
    BUILTIN_DIR,
    DEFAULT_FRAMEWORK_ID,
    MAX_FILE_BYTES,
    Framework,
    FrameworkError,
    discover,
    load_file,
    load_text,
    parse,
)

NATIONAL = "early-help-2016"
SPLIT = "early-help-2016-split-delivery"
NATIONAL_STRANDS = [
    "family-experience",
    "leadership",
    "strategy",
    "culture",
    "workforce-development",
    "delivery",
]
LEVELS_4 = ["early", "developing", "maturing", "mature"]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "frameworks.md"
QUICK_SECONDS = 5.0
KEY_RULE = "a key of lowercase letters, digits and hyphens (max 40)"


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated objects out in full: the loader refuses anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _minimal() -> dict[str, Any]:
    """A small valid framework document: 4 levels, 2 strands."""

    def cell(level: str) -> dict[str, Any]:
        return {"summary": f"Summary at {level}", "descriptors": [f"Descriptor at {level}"]}

    return {
        "id": "test-model",
        "name": "Test model",
        "levels": [{"key": k, "name": k.capitalize()} for k in LEVELS_4],
        "strands": [
            {"key": key, "name": key.capitalize(), "levels": {k: cell(k) for k in LEVELS_4}}
            for key in ("one", "two")
        ],
    }


def _yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True)


def _load(document: Any, source: str = "bad.yaml") -> Framework:
    return load_text(_yaml(document), source)


def _error(document: Any, source: str = "bad.yaml") -> str:
    with pytest.raises(FrameworkError) as caught:
        _load(document, source)
    return str(caught.value)


def _error_of_text(text: str | bytes, source: str = "bad.yaml") -> str:
    with pytest.raises(FrameworkError) as caught:
        load_text(text, source)
    return str(caught.value)


def _builtin_text(framework_id: str = NATIONAL) -> str:
    return (BUILTIN_DIR / f"{framework_id}.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def builtins() -> dict[str, Framework]:
    found, errors = discover()
    assert errors == []
    return found


# --- The built-in models ---------------------------------------------------------------------


def test_discover_loads_both_builtin_files_without_errors() -> None:
    found, errors = discover()
    assert errors == []
    assert {NATIONAL, SPLIT} <= set(found)
    assert DEFAULT_FRAMEWORK_ID == NATIONAL
    assert found[NATIONAL] == load_file(BUILTIN_DIR / "early-help-2016.yaml")


def test_national_model_has_six_strands_in_order(builtins: dict[str, Framework]) -> None:
    national = builtins[NATIONAL]
    assert [s.key for s in national.strands] == NATIONAL_STRANDS
    assert [s.number for s in national.strands] == ["1", "2", "3", "4", "5", "6"]
    assert all(s.parent is None for s in national.strands)
    leadership = national.strand("leadership")
    assert leadership is not None
    assert leadership.label == "2. Leadership"
    assert national.strand("no-such-strand") is None


def test_national_model_levels_are_numbered_one_to_four(builtins: dict[str, Framework]) -> None:
    national = builtins[NATIONAL]
    assert [(lv.key, lv.name, lv.number) for lv in national.levels] == [
        ("early", "Early", 1),
        ("developing", "Developing", 2),
        ("maturing", "Maturing", 3),
        ("mature", "Mature", 4),
    ]
    assert national.level_name(1) == "Early"
    assert national.level_name(4) == "Mature"
    assert national.level_name(0) == ""
    assert national.level_name(5) == ""
    assert national.level_name(None) == ""


@pytest.mark.parametrize("framework_id", [NATIONAL, SPLIT])
def test_every_cell_has_a_summary_and_descriptors(
    builtins: dict[str, Framework], framework_id: str
) -> None:
    framework = builtins[framework_id]
    for strand in framework.strands:
        assert list(strand.cells) == LEVELS_4, strand.key
        assert strand.name and strand.purpose, strand.key
        for key, cell in strand.cells.items():
            assert 0 < len(cell.summary) <= 200, (strand.key, key)
            assert len(cell.descriptors) >= 1, (strand.key, key)
            assert all(d.strip() for d in cell.descriptors), (strand.key, key)


@pytest.mark.parametrize("framework_id", [NATIONAL, SPLIT])
def test_builtins_carry_the_dclg_attribution(
    builtins: dict[str, Framework], framework_id: str
) -> None:
    framework = builtins[framework_id]
    assert framework.publisher == "Department for Communities and Local Government"
    assert framework.published == "2016"
    assert framework.licence == "Open Government Licence v3.0"
    assert "Open Government Licence v3.0" in framework.attribution
    assert "own summary" in framework.attribution


def test_split_variant_splits_delivery_into_two_rows(builtins: dict[str, Framework]) -> None:
    split = builtins[SPLIT]
    keys = [s.key for s in split.strands]
    assert keys == [*NATIONAL_STRANDS[:5], "delivery-structures", "delivery-processes"]
    structures = split.strand("delivery-structures")
    processes = split.strand("delivery-processes")
    assert structures is not None and processes is not None
    assert (structures.number, structures.name) == ("6a", "Delivery structures")
    assert (processes.number, processes.name) == ("6b", "Delivery processes")
    assert structures.parent == processes.parent == "Delivery structures and processes"
    assert all(s.parent is None for s in split.strands[:5])
    assert split.levels == builtins[NATIONAL].levels


# --- Round trips and formats -----------------------------------------------------------------


@pytest.mark.parametrize("framework_id", [NATIONAL, SPLIT])
def test_to_dict_then_parse_gives_an_equal_framework(
    builtins: dict[str, Framework], framework_id: str
) -> None:
    framework = builtins[framework_id]
    stored = json.loads(json.dumps(framework.to_dict()))  # as kept with an assessment
    assert parse(stored, "stored") == framework


def test_round_trip_keeps_empty_optional_fields() -> None:
    framework = _load(_minimal())
    assert framework.publisher == framework.published == framework.licence == ""
    assert framework.strands[0].number == ""
    assert framework.strands[0].elements == ()
    assert framework.strands[0].parent is None
    assert framework.strands[0].label == "One"
    assert "parent" not in framework.to_dict()["strands"][0]
    assert parse(framework.to_dict()) == framework


def test_load_text_accepts_json_as_well_as_yaml(builtins: dict[str, Framework]) -> None:
    national = builtins[NATIONAL]
    text = json.dumps(national.to_dict(), indent=2)
    assert load_text(text, "model.json") == national
    assert load_text(text.encode("utf-8"), "model.json") == national
    assert load_text(_yaml(national.to_dict()), "model.yaml") == national


def test_json_syntax_error_is_reported_as_such() -> None:
    message = _error_of_text('{"id": "x",}', "bad.json")
    assert message.startswith("bad.json: not valid YAML or JSON: ")
    assert "line 1 column 12" in message


def test_text_is_tidied_and_numbers_become_text() -> None:
    document = _minimal()
    document["name"] = "  Test \n  model  "
    document["published"] = 2016
    document["strands"][0]["number"] = 1
    document["strands"][0]["elements"] = ["First  element", "Second"]
    framework = _load(document)
    assert framework.name == "Test model"
    assert framework.published == "2016"
    assert framework.strands[0].number == "1"
    assert framework.strands[0].label == "1. One"
    assert framework.strands[0].elements == ("First element", "Second")


def test_limits_are_inclusive() -> None:
    document = _minimal()
    document["id"] = "a" * 40
    document["strands"][0]["levels"]["early"]["summary"] = "s" * 200
    document["strands"][0]["levels"]["early"]["descriptors"] = ["d"] * 20
    document["strands"][0]["elements"] = ["e"] * 12
    document["levels"] = [{"key": f"l{i}", "name": f"L{i}"} for i in range(7)]
    cells = {f"l{i}": {"summary": "s", "descriptors": ["d"]} for i in range(7)}
    cells["l0"] = document["strands"][0]["levels"]["early"]
    document["strands"] = [{"key": f"s{i}", "name": f"S{i}", "levels": cells} for i in range(40)]
    framework = _load(document)
    assert framework.id == "a" * 40
    assert len(framework.levels) == 7
    assert len(framework.strands) == 40
    assert len(framework.strands[0].cells["l0"].summary) == 200
    assert len(framework.strands[0].cells["l0"].descriptors) == 20


# --- Errors: the message names the file, the field and what was expected --------------------


def test_missing_id() -> None:
    document = _minimal()
    del document["id"]
    assert _error(document) == f"bad.yaml: id: expected {KEY_RULE}, got nothing"


def test_levels_not_a_list() -> None:
    document = _minimal()
    document["levels"] = {"early": "Early", "mature": "Mature"}
    assert _error(document) == "bad.yaml: levels: expected a list of 2 to 7 items, got a mapping"


def test_fewer_than_two_levels() -> None:
    document = _minimal()
    document["levels"] = document["levels"][:1]
    assert _error(document) == (
        "bad.yaml: levels: expected a list of 2 to 7 items, got a list of 1 items"
    )


def test_more_than_seven_levels() -> None:
    document = _minimal()
    document["levels"] = [{"key": f"l{i}", "name": f"L{i}"} for i in range(8)]
    assert _error(document) == (
        "bad.yaml: levels: expected a list of 2 to 7 items, got a list of 8 items"
    )


def test_duplicate_level_key() -> None:
    document = _minimal()
    document["levels"][2]["key"] = "early"
    assert _error(document) == (
        "bad.yaml: levels[2].key: expected a key not used by another level, got 'early'"
    )


def test_duplicate_strand_key() -> None:
    document = _minimal()
    document["strands"][1]["key"] = "one"
    assert _error(document) == (
        "bad.yaml: strands[1].key: expected a key not used by another strand, got 'one'"
    )


def test_no_strands() -> None:
    document = _minimal()
    document["strands"] = []
    assert _error(document) == (
        "bad.yaml: strands: expected a list of 1 to 40 items, got a list of 0 items"
    )


def test_more_than_forty_strands() -> None:
    document = _minimal()
    template = document["strands"][0]
    document["strands"] = [{**template, "key": f"s{i}"} for i in range(41)]
    assert _error(document) == (
        "bad.yaml: strands: expected a list of 1 to 40 items, got a list of 41 items"
    )


def test_strand_missing_a_level_cell() -> None:
    document = _minimal()
    del document["strands"][0]["levels"]["maturing"]
    assert _error(document) == (
        "bad.yaml: strands[0].levels: expected exactly the levels "
        "early, developing, maturing, mature, got a mapping"
    )


def test_strand_with_an_extra_level_cell() -> None:
    document = _minimal()
    document["strands"][1]["levels"]["embedded"] = {"summary": "s", "descriptors": ["d"]}
    assert _error(document) == (
        "bad.yaml: strands[1].levels: expected exactly the levels "
        "early, developing, maturing, mature, got a mapping"
    )


@pytest.mark.parametrize(("summary", "shown"), [("", "0 characters"), ("   ", "3 characters")])
def test_empty_summary(summary: str, shown: str) -> None:
    document = _minimal()
    document["strands"][0]["levels"]["developing"]["summary"] = summary
    assert _error(document) == (
        "bad.yaml: strands[0].levels.developing.summary: "
        f"expected a non-empty text of at most 200 characters, got {shown}"
    )


def test_missing_summary() -> None:
    document = _minimal()
    del document["strands"][0]["levels"]["early"]["summary"]
    assert _error(document) == (
        "bad.yaml: strands[0].levels.early.summary: "
        "expected a non-empty text of at most 200 characters, got nothing"
    )


def test_summary_too_long() -> None:
    document = _minimal()
    document["strands"][1]["levels"]["mature"]["summary"] = "x" * 201
    assert _error(document) == (
        "bad.yaml: strands[1].levels.mature.summary: "
        "expected a non-empty text of at most 200 characters, got 201 characters"
    )


def test_descriptors_empty_list() -> None:
    document = _minimal()
    document["strands"][0]["levels"]["early"]["descriptors"] = []
    assert _error(document) == (
        "bad.yaml: strands[0].levels.early.descriptors: "
        "expected a list of 1 to 20 items, got a list of 0 items"
    )


def test_too_many_descriptors() -> None:
    document = _minimal()
    document["strands"][0]["levels"]["early"]["descriptors"] = ["d"] * 21
    assert _error(document) == (
        "bad.yaml: strands[0].levels.early.descriptors: "
        "expected a list of 1 to 20 items, got a list of 21 items"
    )


def test_descriptor_not_text() -> None:
    document = _minimal()
    document["strands"][0]["levels"]["mature"]["descriptors"] = ["fine", {"a": "b"}]
    assert _error(document) == (
        "bad.yaml: strands[0].levels.mature.descriptors[1]: "
        "expected a non-empty text of at most 1000 characters, got a mapping"
    )


def test_too_many_elements() -> None:
    document = _minimal()
    document["strands"][0]["elements"] = ["e"] * 13
    assert _error(document) == (
        "bad.yaml: strands[0].elements: expected a list of 0 to 12 items, got a list of 13 items"
    )


def test_true_is_not_text() -> None:
    document = _minimal()
    document["strands"][0]["name"] = True
    assert _error(document) == (
        "bad.yaml: strands[0].name: expected a non-empty text of at most 120 characters, "
        "got bool True"
    )


@pytest.mark.parametrize(
    "bad_key",
    ["Delivery", "delivery structures", "Delivery Structures", "-delivery", "a" * 41, "délivery"],
)
def test_strand_key_must_be_lowercase_letters_digits_and_hyphens(bad_key: str) -> None:
    document = _minimal()
    document["strands"][0]["key"] = bad_key
    assert _error(document) == f"bad.yaml: strands[0].key: expected {KEY_RULE}, got {bad_key!r}"


def test_level_key_with_capitals() -> None:
    document = _minimal()
    document["levels"][1]["key"] = "Developing"
    assert _error(document) == (f"bad.yaml: levels[1].key: expected {KEY_RULE}, got 'Developing'")


def test_key_with_a_trailing_newline_is_refused() -> None:
    document = _minimal()
    document["strands"][0]["key"] = "one\n"
    assert _error(document) == f"bad.yaml: strands[0].key: expected {KEY_RULE}, got 'one\\n'"


@pytest.mark.parametrize(
    ("text", "shown"),
    [("- a\n- b\n", "a list of 2 items"), ("just text\n", "'just text'"), ("", "nothing")],
)
def test_top_level_not_a_mapping(text: str, shown: str) -> None:
    assert _error_of_text(text) == (
        f"bad.yaml: (top level): expected a mapping of named fields, got {shown}"
    )


def test_invalid_yaml_syntax() -> None:
    message = _error_of_text("id: test\nname: [unclosed\nlevels: x\n")
    assert message.startswith("bad.yaml: not valid YAML or JSON: ")
    assert re.search(r"line \d+, column \d+", message)


def test_unsafe_yaml_tag_refused() -> None:
    message = _error_of_text("id: !!python/object/apply:os.system ['true']\n")
    assert message.startswith("bad.yaml: not valid YAML or JSON: ")
    assert "python/object/apply:os.system" in message


def test_anchors_and_aliases_refused_quickly() -> None:
    bomb = (
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    )
    started = time.perf_counter()
    message = _error_of_text(bomb)
    assert time.perf_counter() - started < QUICK_SECONDS
    assert message.startswith(
        "bad.yaml: not valid YAML or JSON: anchors and aliases are not allowed"
    )
    assert "line 2" in message


def test_a_single_alias_is_refused_too() -> None:
    document = _yaml(_minimal()).replace("name: Test model", "name: &n Test model", 1)
    document = document.replace("name: One", "name: *n", 1)
    assert "&n" in document and "*n" in document
    message = _error_of_text(document)
    assert message.startswith(
        "bad.yaml: not valid YAML or JSON: anchors and aliases are not allowed"
    )


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("[" * 100_000, "bad.yaml"),
        ("- " * 100_000, "bad.yaml"),
        ("[" * 100_000, "bad.json"),
        ('{"a":' * 100_000, "bad.json"),
    ],
    ids=["yaml-flow", "yaml-block", "json-list", "json-object"],
)
def test_deeply_nested_document_refused_quickly(text: str, source: str) -> None:
    assert len(text.encode()) <= MAX_FILE_BYTES
    started = time.perf_counter()
    message = _error_of_text(text, source)
    assert time.perf_counter() - started < QUICK_SECONDS
    assert message == f"{source}: the file is nested too deeply"


def test_file_larger_than_max_bytes_refused() -> None:
    text = b"# " + b"x" * MAX_FILE_BYTES
    assert _error_of_text(text) == "bad.yaml: the file is larger than 512 KB"


def test_file_of_exactly_max_bytes_accepted() -> None:
    text = _yaml(_minimal()).encode("utf-8")
    padded = text + b"#" * (MAX_FILE_BYTES - len(text))
    assert len(padded) == MAX_FILE_BYTES
    assert load_text(padded, "big.yaml").id == "test-model"


def test_load_file_refuses_a_large_file_before_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(FrameworkError) as caught:
        load_file(path)
    assert str(caught.value) == "huge.yaml: the file is larger than 512 KB"


def test_non_utf8_bytes_refused() -> None:
    text = _yaml(_minimal()).replace("Test model", "Test mod\u00e9l").encode("latin-1")
    assert _error_of_text(text) == "bad.yaml: the file is not UTF-8 text"
    assert load_text(text.decode("latin-1").encode("utf-8"), "ok.yaml").name == "Test modél"


def test_load_file_on_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FrameworkError) as caught:
        load_file(tmp_path / "missing.yaml")
    assert str(caught.value) == "missing.yaml: cannot be read (No such file or directory)"


def _with_line(line: str) -> str:
    """The minimal framework as YAML with one more top-level line after `name`."""
    return _yaml(_minimal()).replace("name: Test model\n", f"name: Test model\n{line}\n", 1)


@pytest.mark.parametrize(
    ("text", "source"),
    [
        pytest.param(
            _with_line("published: 2016-02-30"),
            "bad.yaml",
            id="impossible-date",
        ),
        pytest.param(
            _with_line("published: !!timestamp soon"),
            "bad.yaml",
            id="bad-timestamp-tag",
        ),
        pytest.param(
            _with_line("published: " + "9" * 5000),
            "bad.yaml",
            id="yaml-5000-digit-number",
        ),
        pytest.param(
            '{"id": ' + "9" * 5000 + "}",
            "bad.json",
            id="json-5000-digit-number",
        ),
        pytest.param(
            _yaml(_minimal()).replace("    early:\n", "    1:\n", 1),
            "bad.yaml",
            id="number-as-level-cell-key",
        ),
    ],
)
def test_reader_and_type_failures_are_framework_errors(text: str, source: str) -> None:
    assert text != _yaml(_minimal())
    with pytest.raises(FrameworkError) as caught:
        load_text(text, source)
    assert str(caught.value).startswith(f"{source}: ")


# --- Never half-loaded -----------------------------------------------------------------------


def test_discover_loads_the_valid_file_and_reports_the_broken_one(tmp_path: Path) -> None:
    own = _builtin_text(NATIONAL).replace(f"id: {NATIONAL}\n", "id: my-model\n", 1)
    assert "id: my-model\n" in own
    (tmp_path / "my-model.yml").write_text(own, encoding="utf-8")
    broken = _builtin_text(NATIONAL).replace(f"id: {NATIONAL}\n", "id: broken\n", 1)
    broken = re.sub(r'summary: ".*"', 'summary: ""', broken, count=1)
    (tmp_path / "broken.yaml").write_text(broken, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a framework", encoding="utf-8")

    found, errors = discover([str(tmp_path)])

    assert "my-model" in found
    assert found["my-model"].strands == found[NATIONAL].strands
    assert "broken" not in found
    assert {NATIONAL, SPLIT} <= set(found)
    assert errors == [
        "broken.yaml: strands[0].levels.early.summary: "
        "expected a non-empty text of at most 200 characters, got 0 characters"
    ]


def test_discover_reports_a_file_reusing_a_builtin_id(tmp_path: Path) -> None:
    clash = _builtin_text(NATIONAL).replace(
        "name: Early help service transformation maturity model\n", "name: Impostor\n", 1
    )
    assert "name: Impostor\n" in clash
    (tmp_path / "clash.yaml").write_text(clash, encoding="utf-8")

    found, errors = discover([str(tmp_path)])

    assert found[NATIONAL].name == "Early help service transformation maturity model"
    assert errors == [f"clash.yaml: id {NATIONAL!r} is already used by another file"]


def test_discover_reads_json_files_too(tmp_path: Path, builtins: dict[str, Framework]) -> None:
    stored = builtins[SPLIT].to_dict()
    stored["id"] = "json-model"
    (tmp_path / "json-model.json").write_text(json.dumps(stored), encoding="utf-8")
    shutil.copy(BUILTIN_DIR / f"{SPLIT}.yaml", tmp_path / "copy.yaml")

    found, errors = discover([str(tmp_path)])

    assert found["json-model"].strands == builtins[SPLIT].strands
    assert errors == [f"copy.yaml: id {SPLIT!r} is already used by another file"]


def test_discover_survives_a_file_the_reader_crashes_on(tmp_path: Path) -> None:
    bad = _yaml(_minimal()).replace("name: Test model", "name: Test model\npublished: 2016-02-30")
    (tmp_path / "bad-date.yaml").write_text(bad, encoding="utf-8")

    found, errors = discover([str(tmp_path)])

    assert NATIONAL in found
    assert len(errors) == 1 and errors[0].startswith("bad-date.yaml: ")


# --- The example in docs/frameworks.md ------------------------------------------------------


def test_docs_example_is_a_valid_framework() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "docs/frameworks.md should contain a ```yaml example"
    framework = load_text(blocks[0], "example.yaml")
    assert len(framework.strands) == 2
    assert len(framework.levels) == 4
