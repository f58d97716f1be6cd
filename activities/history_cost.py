"""What a campaign cost the engine, counted from its histories rather than reported by its
workflows.

The workflows' own `EngineCost` sums what each child returns to its parent, so it leaves out
every workflow nobody waits for: the detached 责令整改 workflows (`workflows/rectification.py`)
and anything still running. The histories (`history.collect`) hold every run of every workflow
under the roots, so counting them gives the engine's true cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

COST_KEYS = ("workflows", "runs", "activities", "history_events", "continued_as_new")


def engine_cost(
    histories: Iterable[WorkflowHistory], *, where: Callable[[str], bool] = lambda _: True
) -> dict[str, int]:
    """Workflows (distinct ids), runs (continue-as-new starts another), activities scheduled and
    history events of the histories whose workflow id `where` admits."""
    ids: set[str] = set()
    runs = activities = events = 0
    for h in histories:
        if not where(h.workflow_id):
            continue
        ids.add(h.workflow_id)
        runs += 1
        events += len(h.events)
        activities += sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in h.events)
    return {
        "workflows": len(ids),
        "runs": runs,
        "activities": activities,
        "history_events": events,
        "continued_as_new": runs - len(ids),
    }


def is_rectification(workflow_id: str) -> bool:
    """A 责令整改 workflow's id: CAMPAIGN/rectify/ORDER (`models.rectification.rectification_workflow_id`)."""
    return "/rectify/" in workflow_id
