"""`audit verify` of what it is given. After a campaign closed, its 责令整改 workflows may still
run, and their newest activity writes its rows before Temporal records it done: rows of such open
runs are counted as in flight, rows of closed runs are still held to the letter. A folder may hold
another campaign's histories: only the campaign's own are replayed."""

from __future__ import annotations

from pathlib import Path

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


def test_a_folder_holding_another_campaigns_histories_checks_only_its_own() -> None:
    given = [_history("c", "r0", closed=True), _history("c/unit", "r1", closed=True)]
    given += [_history("c-2/unit", "r2", closed=True), _history("d", "r3", closed=True)]
    mine, others = history.own(given, "c")
    assert [h.workflow_id for h in mine] == ["c", "c/unit"] and others == 2


def test_a_rehearsals_histories_replace_an_earlier_ones(tmp_path: Path) -> None:
    folder = tmp_path / "histories"
    history.save([_history("old/unit", "r0", closed=True)], folder)
    history.save([_history("new/unit", "r1", closed=True)], folder, replace=True)
    assert [p.name for p in folder.iterdir()] == ["new__unit__r1.json"]
