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

LOCAL_ACTIVITY_MARKER = "core_local_activity"
"""The marker the SDK records for each local activity run (`workflow.execute_local_activity`)."""

COST_KEYS = ("workflows", "runs", "activities", "local_activities", "history_events", "continued_as_new")


def engine_cost(
    histories: Iterable[WorkflowHistory], *, where: Callable[[str], bool] = lambda _: True
) -> dict[str, int]:
    """Workflows (distinct ids), runs (continue-as-new starts another), activities and history
    events of the histories whose workflow id `where` admits. `activities` counts every activity
    run: those scheduled through the server and the local ones (`workflow.execute_local_activity`,
    one marker each, which no activity task precedes); `local_activities` says how many of them
    were local."""
    ids: set[str] = set()
    runs = scheduled = local = events = 0
    for h in histories:
        if not where(h.workflow_id):
            continue
        ids.add(h.workflow_id)
        runs += 1
        events += len(h.events)
        for e in h.events:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled += 1
            elif (
                e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                and e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
            ):
                local += 1
    return {
        "workflows": len(ids),
        "runs": runs,
        "activities": scheduled + local,
        "local_activities": local,
        "history_events": events,
        "continued_as_new": runs - len(ids),
    }


def is_rectification(workflow_id: str) -> bool:
    """A 责令整改 workflow's id: CAMPAIGN/rectify/ORDER (`models.rectification.rectification_workflow_id`)."""
    return "/rectify/" in workflow_id
