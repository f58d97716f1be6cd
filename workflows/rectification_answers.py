"""The convener's 批示 on a rectification order: an Update of `RectificationWorkflow`, kept here
so that the order's loop and its unit's and office's Updates stay one readable module.

The convener (the plan's `joint_meeting.convener` unit) answers an order whose escalation reached
the convener's level (`rules.convener.not_answerable`, the same test as for an obligation). An
answer changes nothing about the order: it is a step `answered` on the chain (text, account,
role, the level answered) and a notice to the ordered unit and the office, pushed by their
channels like the order's other notices. Anyone else, or an answer before the escalation reached
the convener, is refused on the record. No patch: a new Update handler adds no command to a
history that never received it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from temporalio import workflow

from models.payloads import CampaignContext, FiredAction
from models.rectification import (
    InstructRectification,
    OrderNotice,
    OrderProgress,
    RectificationOrder,
    RectificationView,
)
from rules.convener import ORDER_ANSWERED_STEP, not_answerable
from rules.rectification import order_label


class OrderAnswers:
    """Mixed into `RectificationWorkflow`, which has the state and the helpers named below."""

    if TYPE_CHECKING:
        _ctx: CampaignContext | None
        _order: RectificationOrder | None
        _p: OrderProgress | None

        def _ready(self) -> None: ...
        def _update_key(self, what: str) -> str: ...
        def _view(self) -> RectificationView: ...
        async def _admit(
            self,
            verb: str,
            actor: str,
            reason: str | None,
            text: str = "",
            who: tuple[str | None, str | None] = (None, None),
        ) -> None: ...
        async def _step(
            self,
            step: str,
            *,
            actor: str,
            event_key: str | None = None,
            text: str = "",
            evidence: Sequence[str] = (),
            reason: str = "",
            actions: Sequence[FiredAction] = (),
            notices: Sequence[OrderNotice] = (),
            plan_time: datetime | None = None,
            who: tuple[str | None, str | None] = (None, None),
            level: int | None = None,
        ) -> None: ...

    @workflow.update
    async def instruct(self, a: InstructRectification) -> RectificationView:
        """The convener answers the order's escalation; the unit and the office are told."""
        assert self._ctx is not None and self._order is not None and self._p is not None
        ctx, p, order = self._ctx, self._p, self._order
        if a.unit_id != ctx.convener:
            reason: str | None = (
                f"only the convener ({ctx.convener}) may answer an escalation (批示), not {a.unit_id!r}"
            )
        else:
            reason = not_answerable(ctx.ruleset, order.key, p.escalation_level)
        who = (a.account, a.role)
        await self._admit("rectify.instruct", a.unit_id, reason, a.text, who)
        key = self._update_key("instruct")
        title = f"召集人批示：{p.unit_name}（{order_label(order, p.round)}）"
        # The unit and the office, once each (they are one unit when the office is the ordered one).
        to = list(dict.fromkeys([order.unit_id, ctx.office]))
        await self._step(
            ORDER_ANSWERED_STEP,
            actor=a.unit_id,
            event_key=key,
            text=a.text,
            level=p.escalation_level,
            who=who,
            notices=[OrderNotice(key=f"{key}#to:{r}", recipient=r, title=title, body=a.text) for r in to],
        )
        return self._view()

    @instruct.validator
    def _v_instruct(self, a: InstructRectification) -> None:
        self._ready()
