"""When the convener may answer (批示): from the lowest level the rule set escalates to the
convener at; never when the rule set escalates nothing to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from models.rectification import InstructRectification
from models.ruleset import RuleSet
from rules.convener import convener_level, not_answerable
from rules.loading import parse_ruleset

RULESETS = Path(__file__).resolve().parents[2] / "rules" / "rulesets"


def ruleset(name: str) -> RuleSet:
    path = RULESETS / name
    return parse_ruleset(path.read_text(encoding="utf-8"), path=str(path))


def test_the_default_rule_set_reaches_the_convener_at_level_3() -> None:
    rs = ruleset("suixian-default.yaml")
    assert convener_level(rs) == 3
    assert not_answerable(rs, "c/rollout/west/T01-basic", 3) is None
    assert not_answerable(rs, "c/rollout/west/T01-basic", 4) is None
    why = not_answerable(rs, "c/rollout/west/T01-basic", 2)
    assert why is not None and "reaches the convener at level 3" in why


def test_changhe_reaches_it_at_level_2() -> None:
    assert convener_level(ruleset("changhe-default.yaml")) == 2


def test_a_rule_set_that_never_escalates_to_the_convener_answers_nothing() -> None:
    rs = ruleset("suixian-basic.yaml")
    assert convener_level(rs) is None
    why = not_answerable(rs, "c/rollout/west/T01-basic", 9)
    assert why is not None and "escalates nothing to the convener" in why


def test_an_answer_to_an_order_has_text() -> None:
    said = InstructRectification(unit_id="convener", text="请约谈", account="web:c", role="convener")
    assert said.text == "请约谈"
    for empty in ("", "   \n"):
        with pytest.raises(ValidationError):
            InstructRectification(unit_id="convener", text=empty)
    with pytest.raises(ValidationError):
        InstructRectification(unit_id="convener", text="x" * 4001)
