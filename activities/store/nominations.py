"""楚天杯 nominations of individuals: kept on the campaign's audit chain (the office's act is the
record; no table of their own), read back for the final evaluation and its report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store import audit
from activities.store.scores import Pinned, cli_provenance
from activities.store.tables import audit_events
from models.commendation import Nomination

NOMINATED = "commendation.nominated"


def nomination_key(campaign_id: str, n: Nomination) -> str:
    """One nomination per person and unit: the same again is the same record, not a second one."""
    return f"{campaign_id}#chutian#{n.unit_id}#{n.person}"


async def nominate(conn: AsyncConnection, p: Pinned, n: Nomination, *, now: datetime) -> bool:
    """Append the nomination to the chain; False when this person of this unit is already nominated.
    Audited as the score commands are (workflow id `cli:scores`): no workflow made it."""
    return bool(
        await audit.append(
            conn,
            cli_provenance(p),
            [
                audit.Event(
                    key=nomination_key(p.campaign_id, n),
                    kind=NOMINATED,
                    plan_time=p.plan_now(now),
                    server_time=now,
                    actor=n.by[:100],
                    unit_id=n.unit_id,
                    payload=n.model_dump(mode="json"),
                )
            ],
        )
    )


async def nominations(conn: AsyncConnection, campaign_id: str, *, as_of: datetime | None = None) -> list[Nomination]:
    """The campaign's nominations in the order made (by the evaluation date, with `as_of`)."""
    a = audit_events.c
    q = select(audit_events).where(a.campaign_id == campaign_id, a.kind == NOMINATED).order_by(a.seq)
    if as_of is not None:
        q = q.where(a.plan_time <= as_of)
    return [Nomination.model_validate(audit.payload_of(r)) for r in (await conn.execute(q)).mappings()]
