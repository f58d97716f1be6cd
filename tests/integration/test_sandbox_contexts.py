"""duban's sandbox answers the SDK's serialization-context questions without entering the run's
sandbox (`workflows.runner._Instance`): a payload codec must still be handed exactly the contexts
the SDK's own sandbox hands it — the activity's for an activity's input, the child's for a
child's — or a codec keyed by workflow (DUBAN_CODEC_KEYS) would encode under the wrong one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import (
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tests.integration.context_workflows import EchoChild, EchoParent, echo
from workflows import sandbox

pytestmark = pytest.mark.integration


class _Recording(PayloadCodec, WithSerializationContext):
    """Passes payloads through and notes the context it was made for at each encoding."""

    def __init__(self, seen: list[SerializationContext | None], context: SerializationContext | None = None) -> None:
        self.seen, self.context = seen, context

    def with_context(self, context: SerializationContext) -> _Recording:
        return _Recording(self.seen, context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.append(self.context)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


async def _contexts(env: WorkflowEnvironment, runner: SandboxedWorkflowRunner, wid: str) -> list[str]:
    seen: list[SerializationContext | None] = []
    client = Client(**{**env.client.config(), "data_converter": DataConverter(payload_codec=_Recording(seen))})
    queue = f"contexts-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[EchoParent, EchoChild], activities=[echo], workflow_runner=runner
    ):
        assert await client.execute_workflow(EchoParent.run, "回声", id=wid, task_queue=queue) == "回声"
    # The workflow ids and task queues differ between the two runs; everything else must not.
    return sorted(repr(c).replace(wid, "WID").replace(queue, "QUEUE") for c in seen)


async def test_payloads_are_encoded_under_the_contexts_the_sdk_gives(env: WorkflowEnvironment) -> None:
    ours = await _contexts(env, sandbox(), f"ctx-{uuid.uuid4()}")
    stock = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default)
    theirs = await _contexts(env, stock, f"ctx-{uuid.uuid4()}")
    assert ours == theirs
    # and they are the specific ones, not a workflow-wide default for everything
    assert any("ActivitySerializationContext" in c and "activity_type='echo'" in c for c in ours), ours
    assert any("WorkflowSerializationContext" in c and "workflow_id='WID/child'" in c for c in ours), ours
