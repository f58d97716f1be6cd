"""Saved histories of a real rehearsal replay through the current workflow code.

A change to workflow code that would break campaigns already running fails here, in CI, before
it reaches a worker. When a change is deliberate, see docs/REPLAY.md.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from activities import history
from models.payloads import Act, EngineCost, UnitInput
from services.audit import replay
from workflows import REHEARSAL_WORKFLOWS, WORKFLOWS, UnitWorkflow, common, sandbox, unit

HISTORIES = Path(__file__).parent / "histories"


def saved() -> list[WorkflowHistory]:
    found = history.load(HISTORIES)
    assert len(found) >= 10, f"no saved histories in {HISTORIES}: run scripts/save-replay-histories"
    return found


async def test_every_saved_history_replays_through_the_current_code() -> None:
    report = await replay(saved())
    assert report.replayed == len(saved())
    assert report.failures == []


@workflow.defn(name="UnitWorkflow", sandboxed=False)
class ChangedUnitWorkflow(UnitWorkflow):
    """The unit workflow as a careless change might leave it: it sleeps a day before loading
    its obligations, a command the recorded histories never saw."""

    @workflow.run
    async def run(self, inp: UnitInput) -> EngineCost:
        await workflow.sleep(timedelta(days=1))
        return await super().run(inp)


async def test_a_changed_workflow_fails_to_replay() -> None:
    units = [h for h in saved() if h.workflow_id.count("/") == 2 and "/rollout/" in h.workflow_id]
    assert units
    others = [w for w in WORKFLOWS if w is not UnitWorkflow]
    replayer = Replayer(
        workflows=[*others, ChangedUnitWorkflow], workflow_runner=sandbox(), data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(units[0], raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


def test_the_saved_set_covers_the_workflow_tree() -> None:
    names = {h.workflow_id.split("/", 1)[1] if "/" in h.workflow_id else "campaign" for h in saved()}
    assert {"campaign", "rollout", "evaluation", "monthly", "rollout/west", "simulation"} <= names


def _locals(h: WorkflowHistory) -> list[str]:
    """The local activities a history ran, by type (from their markers)."""
    return [done[0] for e in h.events if (done := history.local_activity(e)) is not None]


def _scheduled(h: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in h.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def test_the_saved_set_holds_both_shapes_of_a_wake_ups_writes() -> None:
    """Deliveries, mirrors and order steps as ordinary activities (histories from before the
    `local-effects` patch) and as local ones, so both keep replaying."""
    ran = [a for h in saved() for a in _locals(h)]
    scheduled = [a for h in saved() for a in _scheduled(h)]
    for act in (Act.deliver, Act.mirror, Act.rectification_open, Act.rectification_step):
        assert act in scheduled
    for act in (Act.deliver_here, Act.mirror_here, Act.rectification_open_here, Act.rectification_step_here):
        assert act in ran
    assert {Act.load_obligations, Act.agency_days} <= set(ran)


async def test_without_the_local_effects_patch_the_new_shape_does_not_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Code that ran the writes as ordinary activities (what the workflows do where the patch is
    not in the history) cannot replay a history that ran them locally: the patch is what keeps
    both shapes replaying. Unsandboxed, so that the patch's name can be changed here."""
    monkeypatch.setattr(common, "LOCAL_EFFECTS_PATCH", "not-local-effects")
    local = [h for h in saved() if _locals(h)]
    assert {h.workflow_id.split("/", 1)[1].split("/")[0] for h in local} >= {"rollout", "rectify"}
    await _fails_only_while_patched(local, monkeypatch)


async def _fails_only_while_patched(histories: list[WorkflowHistory], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each history fails to replay (non-determinism) with the code as `monkeypatch` changed it,
    and replays once the change is undone. Unsandboxed, so that module names can be changed."""
    replayer = Replayer(
        workflows=[*WORKFLOWS, *REHEARSAL_WORKFLOWS],
        workflow_runner=UnsandboxedWorkflowRunner(),
        data_converter=pydantic_data_converter,
    )
    for h in histories:
        result = await replayer.replay_workflow(h, raise_on_replay_failure=False)
        assert result.replay_failure is not None, h.workflow_id
        assert "nondetermin" in str(result.replay_failure).lower()
    monkeypatch.undo()
    for h in histories:
        assert (await replayer.replay_workflow(h, raise_on_replay_failure=False)).replay_failure is None


def _patches(h: WorkflowHistory) -> list[str]:
    """The patch markers a history recorded, by patch id."""
    out = []
    for e in h.events:
        m = e.marker_recorded_event_attributes
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and m.marker_name == "core_patch":
            out.append(json.loads(m.details["patch-data"].payloads[0].data)["id"])
    return out


def test_the_saved_set_holds_unit_runs_from_before_and_after_each_baseline() -> None:
    """A unit run from a baseline on records its one marker; runs from before, one per patch."""
    units = [h for h in saved() if h.workflow_id.count("/") == 2 and "/rollout/" in h.workflow_id]
    marked = [_patches(h) for h in units]
    for name, _ in unit.UNIT_BASELINES:
        assert [name] in marked, name
    assert any(len(p) > 1 and not {n for n, _ in unit.UNIT_BASELINES} & set(p) for p in marked)


@pytest.mark.parametrize("baseline", [n for n, _ in unit.UNIT_BASELINES])
async def test_without_its_baseline_patch_a_baseline_run_does_not_replay(
    baseline: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code that does not know a baseline (it asks each patch, as runs from before it do) cannot
    replay a run that took them all with that baseline's one marker: the marker is what tells
    the shapes apart."""
    renamed = tuple(("not-the-baseline" if n == baseline else n, c) for n, c in unit.UNIT_BASELINES)
    monkeypatch.setattr(unit, "UNIT_BASELINES", renamed)
    based = [h for h in saved() if _patches(h) == [baseline]]
    assert based
    await _fails_only_while_patched(based, monkeypatch)
