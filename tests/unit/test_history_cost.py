"""The engine's cost counted from histories: local activities count as activities, from their markers."""

from __future__ import annotations

from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from activities import history
from activities.history_cost import engine_cost

HISTORIES = Path(__file__).parent.parent / "replay" / "histories"


def _one(name: str) -> WorkflowHistory:
    [h] = [h for h in history.load(HISTORIES) if h.workflow_id.endswith(name) and "20261204132707" in h.workflow_id]
    return h


def test_a_unit_workflows_local_activities_are_counted_from_their_markers() -> None:
    h = _one("/rollout/east")  # every activity of this unit ran locally
    markers = [e for e in h.events if history.local_activity(e) is not None]
    assert markers
    assert not any(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in h.events)
    cost = engine_cost([h])
    assert cost["activities"] == cost["local_activities"] == len(markers)
    assert cost["history_events"] == len(h.events)


def test_the_effects_of_local_activities_are_read_from_the_inputs_they_return() -> None:
    """`audit verify` holds each audit row against an activity's input; a local activity's marker
    records only its result, which carries its input: a delivery's reminder keys, a mirror's
    Update ids, an order's opening and steps."""
    unit, order = _one("/rollout/east"), _one("/rectify/2021-12-01#west")
    found = history.effects([unit, order])
    assert any("#remind-before-due@" in k for k in found.keys)  # a delivery's
    assert any("#update:acknowledge:" in k for k in found.keys)  # a mirror's
    assert any(k.endswith("#opened") for k in found.keys)  # an order's opening
    assert any("#overdue#r0" in k for k in found.keys)  # an order's step
    # The same histories without their local activities' markers trace nothing: that is where
    # every one of these keys comes from.
    bare = [
        WorkflowHistory(h.workflow_id, [e for e in h.events if history.local_activity(e) is None])
        for h in (unit, order)
    ]
    assert not history.effects(bare).keys
