"""Hostile plan, directory and rule-set files: each refused with `FILE:LINE: message`, promptly,
never a hang, a traceback or a file read from outside the plan's folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from unit_support import CHANGHE_PLAN_PATH, PLAN_PATH, RULESET_PATH

from rules.bounded_yaml import MAX_ALIASES, MAX_DEPTH
from rules.loading import SourceError, parse_plan, parse_ruleset, parse_yaml
from rules.obligations import expand
from rules.plan_size import count_obligations
from services.errors import Invalid
from services.plans import load_plan, read_text

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def refused(text: str, path: str = "x.yaml") -> SourceError:
    with pytest.raises(SourceError) as e:
        parse_yaml(text, path=path)
    assert str(e.value).startswith(f"{path}:{e.value.line}: ")
    return e.value


def test_billion_laughs_is_refused_for_its_aliases() -> None:
    e = refused(BILLION_LAUGHS)
    assert "aliases" in e.message and e.line > 1


def test_aliases_within_the_budget_that_expand_too_far_are_refused() -> None:
    # 2 aliases a level, 16 levels: 32 aliases (the budget) that expand to 2^16 lists.
    levels = ["l0: &l0 [x, x]"] + [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 17)]
    assert sum(s.count("*") for s in levels) == MAX_ALIASES
    assert "expand" in refused("\n".join(levels) + "\n").message


def test_a_shared_block_or_two_still_reads() -> None:
    data, _ = parse_yaml("base: &b {x: 1}\none: *b\ntwo: *b\n", path="x.yaml")
    assert data["two"] == {"x": 1}


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, "".join(" " * i + "k:\n" for i in range(2000)), "- " * 5000 + "x\n"],
    ids=["flow", "block-mapping", "block-sequence"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(text: str) -> None:
    assert f"more than {MAX_DEPTH} deep" in refused(text).message


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x80", "\x9f", "\ufffe", "\ud800"])
def test_unreadable_characters_are_refused_at_their_line(char: str) -> None:
    e = refused(f"id: p\ntitle: a{char}b\n")
    assert e.line == 2 and "unreadable character" in e.message


def test_a_mapping_as_a_key_is_refused_not_a_type_error() -> None:
    assert refused("id: p\n? [a, b]\n: 1\n").line == 2


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_bytes(b"x: " + b"a" * 17_000_000 + b"\n")
    with pytest.raises(SourceError, match="too large"):
        read_text(f)


def test_bad_utf8_is_refused_at_its_line(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_bytes(b"id: p\ntitle: \xff\n")
    with pytest.raises(SourceError) as e:
        read_text(f)
    assert e.value.line == 2


def test_a_device_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a regular file"):
        read_text(Path("/dev/zero"))


def _plan_copy(tmp_path: Path, directory: str) -> Path:
    text = PLAN_PATH.read_text(encoding="utf-8").replace("directory: units/suixian.yaml", f"directory: {directory}")
    (tmp_path / "units").mkdir()
    shutil.copy(PLAN_PATH.parent / "units" / "suixian.yaml", tmp_path / "units" / "suixian.yaml")
    p = tmp_path / "plan.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("ref", ["/proc/self/environ", "../../../../../../etc/passwd", "/dev/zero", "units"])
def test_directory_outside_the_plans_folder_or_not_a_file_is_refused(tmp_path: Path, ref: str) -> None:
    p = _plan_copy(tmp_path, ref)
    with pytest.raises(SourceError) as e:
        load_plan(p)
    assert e.value.path == str(p) and e.value.line == 16
    assert "refused" in e.value.message


def test_directory_beside_the_plan_still_loads(tmp_path: Path) -> None:
    assert load_plan(_plan_copy(tmp_path, "units/suixian.yaml")).id == "suixian-2021"


def test_no_such_plan_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        load_plan(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", [PLAN_PATH, CHANGHE_PLAN_PATH])
def test_obligations_are_counted_without_expanding(path: Path) -> None:
    plan = load_plan(path)
    assert count_obligations(plan) == len(expand(plan, plan.id))


def test_a_plan_over_the_bound_is_refused_at_check() -> None:
    with pytest.raises(SourceError) as e:
        load_plan(PLAN_PATH, max_obligations=700)
    assert "707 obligations" in e.value.message and e.value.line > 1
    assert load_plan(PLAN_PATH, max_obligations=707).id == "suixian-2021"


def test_bombed_rule_set_and_plan_are_refused() -> None:
    with pytest.raises(SourceError, match="aliases"):
        parse_ruleset(RULESET_PATH.read_text(encoding="utf-8") + BILLION_LAUGHS, path="r.yaml")
    with pytest.raises(SourceError, match="aliases"):
        parse_plan(PLAN_PATH.read_text(encoding="utf-8") + BILLION_LAUGHS, path="p.yaml")
