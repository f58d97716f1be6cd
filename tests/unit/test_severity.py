"""三色督办: a notice's colour from how late and how often escalated its obligation is."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from unit_support import RULESET_PATH, line_of, replace_once

from models.documents import Severity
from models.ruleset import NoticeSeverity, RuleSet
from rules.loading import SourceError, parse_ruleset
from rules.severity import severity

DEFAULTS = NoticeSeverity()
ORDER = [Severity.blue, Severity.yellow, Severity.red]


@pytest.mark.parametrize(
    ("days", "prior", "level", "expected"),
    [
        (5, 0, 2, Severity.blue),  # the default rule set's notice: 5 days late, escalated to the office
        (9, 0, 2, Severity.blue),
        (10, 0, 2, Severity.yellow),  # two working weeks late
        (19, 0, 2, Severity.yellow),
        (20, 0, 2, Severity.red),  # a working month late
        (5, 1, 2, Severity.yellow),  # a second notice for the same obligation
        (5, 2, 2, Severity.red),  # a third
        (5, 0, 3, Severity.yellow),  # escalated to the convener
        (5, 0, 4, Severity.red),
        (0, 0, 0, Severity.blue),
        (25, 0, 1, Severity.red),  # any one measure is enough
    ],
)
def test_default_thresholds(days: int, prior: int, level: int, expected: Severity) -> None:
    assert severity(DEFAULTS, days_overdue=days, prior_notices=prior, escalation_level=level) is expected


measures = st.tuples(st.integers(0, 400), st.integers(0, 10), st.integers(0, 9))


@given(measures, measures)
def test_more_late_or_more_escalated_is_never_less_severe(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    lo, hi = (a, b) if all(x <= y for x, y in zip(a, b, strict=True)) else (b, a)
    if not all(x <= y for x, y in zip(lo, hi, strict=True)):
        return  # not comparable
    s_lo = severity(DEFAULTS, days_overdue=lo[0], prior_notices=lo[1], escalation_level=lo[2])
    s_hi = severity(DEFAULTS, days_overdue=hi[0], prior_notices=hi[1], escalation_level=hi[2])
    assert ORDER.index(s_lo) <= ORDER.index(s_hi)


def test_thresholds_are_the_rule_sets_data(ruleset_text: str) -> None:
    text = ruleset_text + "\nseverity: {yellow_days_overdue: 3, red_days_overdue: 5}\n"
    rs = parse_ruleset(text, path="rules.yaml")
    assert rs.severity == NoticeSeverity(yellow_days_overdue=3, red_days_overdue=5)
    assert severity(rs.severity, days_overdue=5, prior_notices=0, escalation_level=2) is Severity.red


def test_a_rule_set_without_thresholds_keeps_its_hash(ruleset: RuleSet, ruleset_text: str) -> None:
    """Running campaigns pinned the hash of a rule set written before thresholds existed."""
    explicit = parse_ruleset(
        ruleset_text + "\nseverity: {yellow_days_overdue: 10, red_days_overdue: 20}\n", path="rules.yaml"
    )
    assert ruleset.severity == DEFAULTS
    assert explicit.digest() == ruleset.digest()
    changed = parse_ruleset(ruleset_text + "\nseverity: {red_days_overdue: 30}\n", path="rules.yaml")
    assert changed.digest() != ruleset.digest()


def test_red_below_yellow_is_refused_at_its_line(ruleset_text: str) -> None:
    with pytest.raises(ValidationError, match="red_notices 1 is below yellow_notices 2"):
        NoticeSeverity(yellow_notices=2, red_notices=1)
    text = replace_once(ruleset_text, "monthly:\n", "severity:\n  red_days_overdue: 5\nmonthly:\n")
    with pytest.raises(SourceError) as e:
        parse_ruleset(text, path=str(RULESET_PATH))
    line = line_of(text, "severity:\n")
    assert str(e.value) == f"{RULESET_PATH}:{line}: severity: red_days_overdue 5 is below yellow_days_overdue 10"
