"""How many obligations a plan makes, counted without making them, and the bound on it.

A plan of 10,000 tasks expands to 420,019 obligations (778 MB of campaign input): no county
runs that, and a typo in a scope can produce it. `duban plan check` and every launch refuse a
plan over the bound (Settings.max_obligations) before anything is expanded or sent. Pure.
"""

from __future__ import annotations

from models.plan import Plan

DEFAULT_MAX_OBLIGATIONS = 100_000
"""Generous: 随县 (19 towns) makes 707; a province of 1,000 towns on the same plan about 37,000."""


def count_obligations(plan: Plan) -> int:
    """`len(rules.obligations.expand(plan, …))`, without building them."""
    n = 0
    for phase in plan.phases:
        for duty in phase.duties:
            n += len(plan.expand(duty.units))
        if phase.tasks_due_at_milestones and phase.milestones:
            per = sum(len(plan.expand((t.lead, *t.responsible))) for t in plan.tasks)
            n += per * len(phase.milestones)
    return n


def too_large(plan: Plan, limit: int = DEFAULT_MAX_OBLIGATIONS) -> str | None:
    """Why the plan is refused as too large, or None."""
    n = count_obligations(plan)
    if n > limit:
        return (
            f"the plan makes {n:,} obligations, more than the {limit:,} allowed "
            f"({len(plan.tasks):,} tasks; DUBAN_MAX_OBLIGATIONS raises the bound)"
        )
    return None
