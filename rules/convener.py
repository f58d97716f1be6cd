"""When an obligation's escalation has reached the convener (召集人), so that the convener may
answer it (批示): pure, read by the unit workflow (which decides) and the read side (which lists)."""

from __future__ import annotations

from models.ruleset import ActionKind, Role, RuleSet

INSTRUCTED = "escalation.answered"
"""The audit kind of a convener's 批示 (the unit workflow records it; the mirror delivers it)."""
ORDER_ANSWERED_STEP = "answered"
"""The rectification step of a 批示 on an order (its audit kind: `rectification.answered`)."""
ORDER_INSTRUCTED = f"rectification.{ORDER_ANSWERED_STEP}"


def convener_level(ruleset: RuleSet) -> int | None:
    """The lowest escalation level the rule set escalates to the convener at; None if it never does
    (then nothing reaches the convener, and it answers nothing)."""
    levels = [
        r.action.level for r in ruleset.rules if r.action.kind is ActionKind.escalate and r.action.to is Role.convener
    ]
    return min(levels) if levels else None


def not_answerable(ruleset: RuleSet, obligation_id: str, escalation_level: int) -> str | None:
    """Why the convener may not answer this obligation's (or rectification order's) escalation
    now, or None."""
    level = convener_level(ruleset)
    if level is None:
        return "the campaign's rule set escalates nothing to the convener: there is nothing to answer"
    if escalation_level < level:
        return (
            f"{obligation_id} is escalated to level {escalation_level}: "
            f"it reaches the convener at level {level}, so there is nothing to answer yet"
        )
    return None
