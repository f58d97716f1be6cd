"""The audit trail: an append-only hash chain per campaign.

Row n's hash is SHA-256(hash of row n-1 ‖ content digest of row n), where the content digest is
SHA-256 of every field of the row in an unambiguous, length-prefixed encoding (`encode`). An
edited, deleted, inserted or reordered row breaks the chain at that row.

The encoding is defined so that PostgreSQL can compute the content digest too (`_CONTENT_SQL`):
verifying a campaign then reads one 32-byte digest per row instead of the row, and the Python
side only chains hashes (about a million rows a second). The payload is stored as canonical
JSON text for the same reason: its digest is the same on both sides.

Appends are serialised per campaign by locking its head row, and idempotent: an event whose key
is already in the chain is skipped, so a retried activity adds nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import audit_events, audit_heads
from models.payloads import Provenance

GENESIS = "0" * 64

# The fields of a row, in chain order. `hash` and `prev_hash` are the chain itself; the payload
# enters through its digest.
FIELDS = (
    "campaign_id",
    "seq",
    "event_key",
    "kind",
    "plan_time",
    "server_time",
    "actor",
    "obligation_id",
    "unit_id",
    "rule_id",
    "ruleset_hash",
    "plan_hash",
    "workflow_id",
    "run_id",
    "payload_digest",
)
_TIMES = ("plan_time", "server_time")
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # UTC, microseconds: PostgreSQL's own precision


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


def _json_default(v: Any) -> str:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime(_TS_FORMAT)
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _field(v: Any) -> str:
    if v is None:
        return "~"
    s = v.astimezone(UTC).strftime(_TS_FORMAT) if isinstance(v, datetime) else str(v)
    return f"{len(s)}:{s}"


def encode(row: dict[str, Any]) -> str:
    """A row's content as one string: each field length-prefixed, NULL as '~'."""
    return "".join(_field(row[f]) for f in FIELDS)


def content_digest(row: dict[str, Any]) -> bytes:
    return hashlib.sha256(encode(row).encode()).digest()


def link(prev_hash: str, digest: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + digest).hexdigest()


def _sql_field(name: str) -> str:
    if name in _TIMES:
        value = f"""to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    elif name == "seq":
        value = "seq::text"
    else:
        value = name
    return f"coalesce(length({value})::text || ':' || {value}, '~')"


_CONTENT_SQL = "sha256(convert_to(concat(" + ", ".join(_sql_field(f) for f in FIELDS) + "), 'UTF8'))"

_VERIFY_SQL = f"""
SELECT seq, event_key, kind, prev_hash, hash, {_CONTENT_SQL} AS content,
       encode(sha256(convert_to(payload, 'UTF8')), 'hex') = payload_digest AS payload_ok
FROM audit_events WHERE campaign_id = $1 ORDER BY seq
"""


async def append(conn: AsyncConnection, prov: Provenance, events: Sequence[Event]) -> int:
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
        payload = canonical(e.payload)
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
            "payload": payload,
            "payload_digest": sha256_hex(payload),
            "prev_hash": prev,
        }
        row["hash"] = prev = link(prev, content_digest(row))
        rows.append(row)
    if rows:
        await conn.execute(insert(audit_events), rows)
        await conn.execute(audit_heads.update().where(audit_heads.c.campaign_id == cid).values(seq=seq, hash=prev))
    return len(rows)


@dataclass
class ChainReport:
    ok: bool
    rows: int
    head: str
    problems: list[str]

    def summary(self, campaign_id: str) -> str:
        if self.ok:
            return f"{campaign_id}: audit chain holds: {self.rows} rows, head {self.head[:16]}…"
        return f"{campaign_id}: audit chain broken: " + "; ".join(self.problems[:5])


async def verify(conn: AsyncConnection, campaign_id: str, *, limit: int = 20, progress: Any = None) -> ChainReport:
    """Recompute a campaign's chain; name the rows that do not hold (at most `limit`).

    A row whose content changed (its hash no longer follows from it), a payload changed behind
    its digest, a missing or inserted row (a gap or a break in the links), rows reordered, or
    rows cut from the end (the head remembers the last one).
    """
    head = (await conn.execute(select(audit_heads).where(audit_heads.c.campaign_id == campaign_id))).first()
    if head is None:
        return ChainReport(False, 0, "", [f"no audit trail for campaign {campaign_id!r}"])
    raw = await conn.get_raw_connection()
    pg = raw.driver_connection
    assert pg is not None
    problems: list[str] = []
    prev, expected, n = GENESIS, 1, 0
    # A cursor needs a transaction: a read-only one of our own, or the caller's.
    tx = contextlib.nullcontext() if pg.is_in_transaction() else pg.transaction(readonly=True)
    async with tx:
        async for r in pg.cursor(_VERIFY_SQL, campaign_id, prefetch=20000):
            where = f"row {r['seq']} ({r['kind']} {r['event_key']})"
            if r["seq"] != expected:
                what = "missing" if r["seq"] > expected else "repeated"
                problems.append(f"{where}: expected row {expected}: a row is {what} (deleted or inserted)")
            elif r["prev_hash"] != prev:
                problems.append(f"{where}: does not link to the row before it (rows reordered, or one inserted)")
            elif not r["payload_ok"]:
                problems.append(f"{where}: payload changed after it was written")
            elif link(prev, r["content"]) != r["hash"]:
                problems.append(f"{where}: content changed after it was written")
            if len(problems) >= limit:
                break
            # Carry on from what the row claims, so one tampered row is named once.
            prev, expected, n = r["hash"], r["seq"] + 1, n + 1
            if progress is not None and n % 10000 == 0:
                progress(n)
    if not problems and (n != head.seq or prev != head.hash):
        problems.append(f"the chain ends at row {n} but its head records row {head.seq}: rows were cut from the end")
    return ChainReport(not problems, n, prev, problems)


def payload_of(row: Any) -> dict[str, Any]:
    """A row's payload (canonical JSON text) as a dict."""
    data: dict[str, Any] = json.loads(row["payload"])
    return data


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
    cst = timezone(timedelta(hours=8))
    out = []
    for r in rows:
        payload = payload_of(r)
        t = r["plan_time"].astimezone(cst)
        why = f"rule {r['rule_id']}" if r["rule_id"] else f"by {r['actor']}"
        facts = payload.get("facts")
        extra = ""
        if facts:
            keys = ("state", "days_left", "days_overdue", "progress")
            extra = " (" + ", ".join(f"{k}={facts.get(k)}" for k in keys) + ")"
        elif "code" in payload:
            extra = f" {payload['code']}"
        out.append(f"{t:%Y-%m-%d %H:%M} {r['kind']:<24} {why}{extra}")
    return out
