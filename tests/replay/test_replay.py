"""Saved histories of a real rehearsal replay through the current workflow code.

A change to workflow code that would break campaigns already running fails here, in CI, before
it reaches a worker. When a change is deliberate, see docs/REPLAY.md.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities import history
from models.payloads import EngineCost, UnitInput
from services.audit import replay
from workflows import WORKFLOWS, UnitWorkflow, sandbox

HISTORIES = Path(__file__).parent / "histories"


def saved() -> list[history.WorkflowHistory]:
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
