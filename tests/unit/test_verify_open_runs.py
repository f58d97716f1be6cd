"""`audit verify` after a campaign closed: its 责令整改 workflows may still run, and their newest
activity writes its rows before Temporal records it done. Rows of such open runs are counted as
in flight; rows of closed runs are still held to the letter."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent, WorkflowExecutionStartedEventAttributes
from temporalio.client import WorkflowHistory

from activities import history
from services.audit import _seen_rows


def _history(wid: str, run: str, *, closed: bool) -> WorkflowHistory:
    events = [
        HistoryEvent(
            event_id=1,
            event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                original_execution_run_id=run
            ),
        )
    ]
    if closed:
        events.append(HistoryEvent(event_id=2, event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))
    return WorkflowHistory(workflow_id=wid, events=events)


def test_runs_without_a_closing_event_are_open() -> None:
    found = history.effects([_history("c/rectify/a", "r1", closed=False), _history("c/unit", "r2", closed=True)])
    assert found.open == {("c/rectify/a", "r1")}
    assert found.runs == {("c/rectify/a", "r1"), ("c/unit", "r2")}


def test_only_an_open_runs_rows_may_be_ahead_of_its_history() -> None:
    found = history.effects([_history("c/rectify/a", "r1", closed=False), _history("c/unit", "r2", closed=True)])
    ahead = ("c/rectify/a#reminder@x", "rectification.reminder", "c/rectify/a", "r1")
    forged = ("c/unit/t#reminder@y", "reminder", "c/unit", "r2")
    kept, in_flight = _seen_rows(found, [ahead, forged], among=found.open)
    assert in_flight == 1 and kept == [forged]
    # The closed run's row is still held against the history, and fails there.
    assert history.cross_check(found, kept) == [
        "audit row c/unit/t#reminder@y (reminder) matches no activity recorded in Temporal's history"
    ]
