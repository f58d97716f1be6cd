"""The campaign's `install_rules` validator never parses YAML: text sent straight through a
Temporal client (a YAML bomb) is refused by its size alone; a rule set sent as read by the
service is proven to run against the plan (conditions, roles, milestones) before it is accepted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from unit_support import RULESET_PATH

from models.payloads import InstallRules
from models.ruleset import RuleSet
from rules import loading
from rules.loading import parse_yaml as read_yaml  # bound before the fixture stubs it out
from services.plans import load_plan, prepare
from tests.integration.mini import BASIC_RULES, MINI_PLAN
from workflows import campaign
from workflows.campaign import CampaignWorkflow

BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.fixture
def wf(monkeypatch: pytest.MonkeyPatch) -> CampaignWorkflow:
    inp = prepare(
        load_plan(MINI_PLAN), BASIC_RULES, campaign_id="mini-x", server_now=datetime(2021, 5, 1, tzinfo=UTC), live=False
    ).input
    w = CampaignWorkflow()
    w._inp, w._ctx = inp, inp.context

    def never(*a: Any, **k: Any) -> Any:
        raise AssertionError("the workflow parsed YAML")

    monkeypatch.setattr(campaign, "parse_ruleset", never)
    monkeypatch.setattr(loading, "parse_yaml", never)
    return w


@pytest.mark.parametrize("text", [BOMB, "x" * 3_000_000, RULESET_PATH.read_text(encoding="utf-8")])
def test_text_is_refused_without_being_parsed(wf: CampaignWorkflow, text: str) -> None:
    with pytest.raises(ValueError, match="not YAML text"):
        wf._v_install_rules(InstallRules(text=text, path="bomb.yaml"))


def _read(text: str) -> RuleSet:
    data, _ = read_yaml(text, path="r.yaml")
    return RuleSet.model_validate(data)


def test_a_parsed_rule_set_is_proven_against_the_plan(wf: CampaignWorkflow, monkeypatch: pytest.MonkeyPatch) -> None:
    basic = BASIC_RULES.read_text(encoding="utf-8")
    good = _read(basic.replace("version: 1", "version: 2", 1))
    broken = _read(basic.replace("version: 1", "version: 2", 1).replace("when: ", "when: nosuchfact || ", 1))
    wf._v_install_rules(InstallRules(ruleset=good, path="new.yaml"))
    with pytest.raises(ValueError, match=r"new\.yaml: rule .*unknown fact 'nosuchfact'"):
        wf._v_install_rules(InstallRules(ruleset=broken, path="new.yaml"))
    with pytest.raises(ValueError, match="already in force"):
        wf._v_install_rules(InstallRules(ruleset=_read(basic), path="same.yaml"))


def test_a_condition_too_long_for_the_engine_is_refused_when_read() -> None:
    with pytest.raises(loading.SourceError, match="at most 2000 characters"):
        loading.parse_ruleset(
            BASIC_RULES.read_text(encoding="utf-8").replace("when: ", "when: " + "(" * 3000, 1), path="r.yaml"
        )
