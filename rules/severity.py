"""三色督办: how pressing a 督办通知 is, from how late and how often escalated its obligation is.

Pure: the thresholds are the rule set's data (`models.ruleset.NoticeSeverity`), the measures are
what the notice's activity reads from the read side at the moment of issue.
"""

from __future__ import annotations

from models.documents import Severity
from models.ruleset import NoticeSeverity

_ORDER = (Severity.blue, Severity.yellow, Severity.red)


def _by(value: int, yellow: int, red: int) -> Severity:
    if value >= red:
        return Severity.red
    return Severity.yellow if value >= yellow else Severity.blue


def severity(t: NoticeSeverity, *, days_overdue: int, prior_notices: int, escalation_level: int) -> Severity:
    """The most pressing colour any measure reaches.

    Args:
        t: the rule set's thresholds.
        days_overdue: official working days past the due date on the day of issue.
        prior_notices: 督办通知 already issued to the unit, for any of its items (not this one).
        escalation_level: the highest escalation level the obligation has reached, this
            notice's escalation included.
    """
    found = (
        _by(days_overdue, t.yellow_days_overdue, t.red_days_overdue),
        _by(prior_notices, t.yellow_notices, t.red_notices),
        _by(escalation_level, t.yellow_level, t.red_level),
    )
    return max(found, key=_ORDER.index)
