"""Two tiny workflows for `test_sandbox_contexts`: a parent that runs an activity and a child, so
payloads are encoded under an activity's, a child's and its own serialization context."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def echo(text: str) -> str:
    return text


@workflow.defn
class EchoChild:
    @workflow.run
    async def run(self, text: str) -> str:
        return text


@workflow.defn
class EchoParent:
    @workflow.run
    async def run(self, text: str) -> str:
        echoed = await workflow.execute_activity(echo, text, start_to_close_timeout=timedelta(seconds=30))
        return await workflow.execute_child_workflow(EchoChild.run, echoed, id=f"{workflow.info().workflow_id}/child")
