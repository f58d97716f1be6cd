"""Fixtures for the pure unit tests: the shipped plan, unit directory, rule set and calendar.

Session-scoped because they are immutable (frozen pydantic models) and hypothesis refuses
function-scoped fixtures in its tests.
"""

from __future__ import annotations

import pytest
from unit_support import DIRECTORY_PATH, PLAN_PATH, RULESET_PATH

from models.plan import Plan, UnitDirectory
from models.ruleset import RuleSet
from rules import calendar as cal
from rules.loading import parse_directory, parse_plan, parse_ruleset


@pytest.fixture(scope="session")
def directory() -> UnitDirectory:
    return parse_directory(DIRECTORY_PATH.read_text(encoding="utf-8"), path=str(DIRECTORY_PATH))


@pytest.fixture(scope="session")
def plan_text() -> str:
    return PLAN_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def plan(plan_text: str, directory: UnitDirectory) -> Plan:
    return parse_plan(plan_text, path=str(PLAN_PATH), directory=directory)


@pytest.fixture(scope="session")
def ruleset_text() -> str:
    return RULESET_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def ruleset(ruleset_text: str) -> RuleSet:
    return parse_ruleset(ruleset_text, path=str(RULESET_PATH))


@pytest.fixture(scope="session")
def work_calendar() -> cal.WorkCalendar:
    """Every year the package knows, so hypothesis can roam freely."""
    return cal.WorkCalendar(cal.build(cal.package_years()))
