"""The one place a service sends a workflow an Update (or asks it a query), and the one mapping
of what can go wrong to the refusal family:

- the handler or validator refused (`WorkflowUpdateFailedError`): `Conflict`, with its message
  (on the audit trail when the handler refused);
- no such workflow (`NOT_FOUND`): `Conflict` if its campaign is closed, else `NotFound`;
- no Temporal server to reach, for a caller that must not start one: `NotFound`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodSyncOrAsyncNoParam
from temporalio.workflow import UpdateMethodMultiParam

from activities.store import views
from models.time import CST
from services.context import Services
from services.errors import Conflict, NotFound

A = TypeVar("A")
R = TypeVar("R")


def closed_message(campaign: str, when: datetime | None) -> str:
    on = f" on {when.astimezone(CST):%Y-%m-%d}" if when else ""
    return f"campaign {campaign} is closed{on}: it takes no further changes"


async def require_open(ctx: Services, campaign: str) -> None:
    """Refuse (Conflict) a change to a closed campaign; an unknown one is left to the workflow."""
    head = await ctx.read(views.campaign_head, campaign)
    if head is not None and head.closed_plan_time is not None:
        raise Conflict(closed_message(campaign, head.closed_plan_time))


@asynccontextmanager
async def _mapped(ctx: Services, *, campaign: str, missing: str) -> AsyncIterator[None]:
    try:
        yield
    except WorkflowUpdateFailedError as e:
        raise Conflict(f"refused: {getattr(e.cause, 'message', e)}") from None
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
        await require_open(ctx, campaign)
        raise NotFound(missing) from None


async def _handle(ctx: Services, workflow_id: str, *, start: bool) -> WorkflowHandle[Any, Any]:
    try:
        client = await ctx.client(start=start)
    except RuntimeError as e:  # start=False and nothing listens, or production without an address
        raise NotFound(str(e)) from None
    return client.get_workflow_handle(workflow_id)


async def send(
    ctx: Services,
    *,
    workflow_id: str,
    update: UpdateMethodMultiParam[[Any, A], R],
    arg: A,
    campaign: str,
    missing: str,
    start: bool = True,
) -> R:
    """Execute `update(arg)` on the workflow and wait for its result.

    Args:
        campaign: the workflow's campaign, to say so when it is closed.
        missing: the user's words for "no such workflow" (what did not happen, and why it may be).
        start: whether to start the embedded Temporal server if none runs (see Services.client).
    """
    handle = await _handle(ctx, workflow_id, start=start)
    async with _mapped(ctx, campaign=campaign, missing=missing):
        return await handle.execute_update(update, arg)


async def send_to_campaign(
    ctx: Services, *, campaign: str, update: UpdateMethodMultiParam[[Any, A], R], arg: A, what: str
) -> R:
    """`send` to the campaign's own workflow; `what` says what did not happen if none runs."""
    return await send(
        ctx,
        workflow_id=campaign,
        update=update,
        arg=arg,
        campaign=campaign,
        missing=f"campaign {campaign} is not running (closed, or not launched here): {what}",
    )


async def ask(
    ctx: Services,
    *,
    workflow_id: str,
    query: MethodSyncOrAsyncNoParam[Any, R],
    campaign: str,
    missing: str,
    start: bool = True,
) -> R:
    """A workflow's answer to a query, with the refusals of `send`."""
    handle = await _handle(ctx, workflow_id, start=start)
    async with _mapped(ctx, campaign=campaign, missing=missing):
        return await handle.query(query)
