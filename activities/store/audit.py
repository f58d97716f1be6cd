"""The audit trail: an append-only hash chain per campaign.

Each row carries the hash of the row before it, so an edited, deleted, inserted or reordered
row breaks the chain at that row. Appends are serialised per campaign by locking its head row,
and idempotent: an event whose key is already in the chain is skipped, so a retried activity
adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import audit_events, audit_heads
from models.payloads import Provenance

GENESIS = "sha256:" + "0" * 64


@dataclass(frozen=True)
class Event:
    key: str
    kind: str
    plan_time: datetime
    server_time: datetime
    actor: str
    payload: dict[str, Any] = field(default_factory=dict)
    obligation_id: str | None = None
    unit_id: str | None = None
    rule_id: str | None = None


def _plain(v: Any) -> str:
    # Timestamps come back from PostgreSQL in UTC whatever zone they went in with: hash them
    # in UTC so a row read back hashes as it was written.
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    return str(v)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain).encode()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of a chain row: everything in it but its own hash, chained to the previous."""
    fields = {k: v for k, v in row.items() if k not in ("hash", "payload")}
    return digest(prev_hash.encode() + b"|" + canonical(fields))


async def append(conn: AsyncConnection, prov: Provenance, events: list[Event]) -> int:
    """Append events to the campaign's chain inside the caller's transaction; returns how many
    were new."""
    if not events:
        return 0
    cid = prov.campaign_id
    await conn.execute(insert(audit_heads).values(campaign_id=cid, seq=0, hash=GENESIS).on_conflict_do_nothing())
    head = (await conn.execute(select(audit_heads).where(audit_heads.c.campaign_id == cid).with_for_update())).one()
    keys = [e.key for e in events]
    seen = set(
        (
            await conn.execute(
                select(audit_events.c.event_key).where(
                    audit_events.c.campaign_id == cid, audit_events.c.event_key.in_(keys)
                )
            )
        ).scalars()
    )
    seq, prev = head.seq, head.hash
    rows = []
    for e in events:
        if e.key in seen:
            continue
        seen.add(e.key)
        seq += 1
        row: dict[str, Any] = {
            "campaign_id": cid,
            "seq": seq,
            "event_key": e.key,
            "kind": e.kind,
            "plan_time": e.plan_time,
            "server_time": e.server_time,
            "actor": e.actor,
            "obligation_id": e.obligation_id,
            "unit_id": e.unit_id,
            "rule_id": e.rule_id,
            "ruleset_hash": prov.ruleset_hash,
            "plan_hash": prov.plan_hash,
            "workflow_id": prov.workflow_id,
            "run_id": prov.run_id,
            "payload": e.payload,
            "payload_digest": digest(canonical(e.payload)),
            "prev_hash": prev,
        }
        row["hash"] = prev = row_hash(prev, row)
        rows.append(row)
    if rows:
        await conn.execute(insert(audit_events), rows)
        await conn.execute(audit_heads.update().where(audit_heads.c.campaign_id == cid).values(seq=seq, hash=prev))
    return len(rows)


async def verify(conn: AsyncConnection, campaign_id: str) -> tuple[bool, str]:
    """Recompute a campaign's chain: every row's hash from its content and its predecessor's.

    Names the first row that does not hold: edited (its hash no longer matches its content),
    deleted or inserted (a gap or repeat in the sequence, or a broken link), or reordered.
    """
    head = (await conn.execute(select(audit_heads).where(audit_heads.c.campaign_id == campaign_id))).first()
    if head is None:
        return False, f"no audit trail for campaign {campaign_id!r}"
    prev, expected_seq, n = GENESIS, 1, 0
    result = await conn.stream(
        select(audit_events).where(audit_events.c.campaign_id == campaign_id).order_by(audit_events.c.seq)
    )
    async for r in result.mappings():
        row = dict(r)
        where = f"row {row['seq']} ({row['kind']} {row['event_key']})"
        if row["seq"] != expected_seq:
            return False, f"{where}: expected row {expected_seq}: a row is missing or was inserted"
        if row["prev_hash"] != prev:
            return False, f"{where}: does not link to the row before it"
        if digest(canonical(row["payload"])) != row["payload_digest"]:
            return False, f"{where}: payload was changed after it was written"
        if row_hash(prev, row) != row["hash"]:
            return False, f"{where}: content was changed after it was written"
        prev, expected_seq, n = row["hash"], expected_seq + 1, n + 1
    if n != head.seq or prev != head.hash:
        return (
            False,
            f"chain ends at row {n} but its head records row {head.seq}: rows were removed from the end",
        )
    return True, f"{campaign_id}: audit chain holds: {n} rows, head {prev[:19]}…"


async def timeline(conn: AsyncConnection, obligation_id: str) -> list[str]:
    """An obligation's audit rows, oldest first, as lines in plan time."""
    rows = (
        (
            await conn.execute(
                select(audit_events).where(audit_events.c.obligation_id == obligation_id).order_by(audit_events.c.seq)
            )
        )
        .mappings()
        .all()
    )
    out = []
    for r in rows:
        t = r["plan_time"].astimezone(timezone(timedelta(hours=8)))
        why = f"rule {r['rule_id']}" if r["rule_id"] else f"by {r['actor']}"
        facts = r["payload"].get("facts")
        extra = ""
        if facts:
            keys = ("state", "days_left", "days_overdue", "progress")
            seen = ", ".join(f"{k}={facts.get(k)}" for k in keys)
            extra = f" ({seen})"
        elif "code" in r["payload"]:
            extra = f" {r['payload']['code']}"
        out.append(f"{t:%Y-%m-%d %H:%M} {r['kind']:<24} {why}{extra}")
    return out
