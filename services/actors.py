"""Who acts: an account the door has proven, the unit it acts for, and its role.

The workflows still authorize on the unit (`unit_id` in every Update) and record refusals; the
actor's account is carried so that the next step (issue 13) can put it on the audit trail.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from activities.store import views
from services.context import Services

Role = Literal["office", "agency", "auditor", "convener"]


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: str
    """As the door proved it: `cli:<operator>` for the command line."""
    unit: str | None = None
    role: Role


async def acting_for(ctx: Services, *, account: str, unit: str | None, campaign: str) -> Actor:
    """The actor for `unit` in `campaign`: the office when it is the campaign's office unit (read
    from the campaign's row), else an agency; no unit at all is an auditor (read-only)."""
    if unit is None:
        return Actor(account=account, role="auditor")
    head = await ctx.read(views.campaign_head, campaign)
    role: Role = "office" if head is not None and head.office == unit else "agency"
    return Actor(account=account, unit=unit, role=role)
