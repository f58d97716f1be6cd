"""The outbox and delivery ledger: enqueue inside an action's transaction; claim, record, list.

The protocol that makes a push go out once or be surfaced (`activities.delivery` runs it):

1. **claim**: in a short committed transaction, pending rows due by now move to `sending`,
   attempts + 1, and an attempt row is written (started, no outcome yet). Before a row is
   claimed, the claimer takes a session-level advisory lock on it, on the one connection it
   uses for the whole call and closes at the end, so everyone can tell a live claim from a dead
   one.
2. **send**, outside any transaction.
3. **record**: sent / retry (pending again, later not_before) / failed, with the attempt's outcome.

A row in `sending` whose advisory lock can be taken has lost its claimer (the worker died, or the
attempt failed, between claim and record): it may or may not have gone out, so it is never sent
again automatically; `sweep` marks it `uncertain` for a person to check. A dead claimer's locks
go with its connection, so this needs no lease or clock.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import deliveries, delivery_attachments, delivery_attempts, delivery_blobs
from models.delivery import Attachment, AttemptOutcome, DeliveryStatus, OutgoingMessage, delivery_id

# Advisory lock keys of delivery rows: this prefix ("delv") in the high 32 bits, the row id below.
_LOCK_BASE = 0x64656C76 << 32


# The documents duban sends, named here: Python's own table lacks the Office formats before 3.12,
# and /etc/mime.types is not on every machine.
_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}


def content_type(a: Attachment) -> str:
    suffix = "." + a.filename.rsplit(".", 1)[-1].lower() if "." in a.filename else ""
    return a.content_type or _TYPES.get(suffix) or mimetypes.guess_type(a.filename)[0] or "application/octet-stream"


async def enqueue(conn: AsyncConnection, rows: Sequence[OutgoingMessage]) -> int:
    """Add pushes to the ledger inside the caller's transaction; a key already there is skipped
    (ON CONFLICT DO NOTHING), attachments and all. Returns how many rows are new."""
    if not rows:
        return 0
    inserted = (
        await conn.execute(
            insert(deliveries)
            .values(
                [
                    {
                        "idempotency_key": m.key,
                        "campaign_id": m.campaign_id,
                        "recipient": m.recipient,
                        "channel": m.channel.value,
                        "address": m.address,
                        "secret_env": m.secret_env,
                        "subject": m.subject,
                        "body": m.body,
                        "payload": m.payload,
                        "plan_time": m.plan_time,
                        "server_time": m.server_time,
                        "not_before": m.not_before,
                    }
                    for m in rows
                ]
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(deliveries.c.id, deliveries.c.idempotency_key)
        )
    ).all()
    ids = {key: rid for rid, key in inserted}
    blobs: dict[str, bytes] = {}
    refs: list[dict[str, Any]] = []
    for m in rows:
        if m.key not in ids:
            continue
        for position, a in enumerate(m.attachments):
            blobs[a.sha256] = a.content
            refs.append(
                {
                    "delivery_id": ids[m.key],
                    "position": position,
                    "sha256": a.sha256,
                    "filename": a.filename,
                    "content_type": content_type(a),
                }
            )
    if blobs:
        await conn.execute(
            insert(delivery_blobs)
            .values([{"sha256": h, "size": len(b), "content": b} for h, b in blobs.items()])
            .on_conflict_do_nothing()
        )
    if refs:
        await conn.execute(insert(delivery_attachments).values(refs))
    return len(ids)


def _scope(campaign_id: str, keys: Sequence[str] | None) -> list[Any]:
    where = [deliveries.c.campaign_id == campaign_id]
    if keys is not None:
        where.append(deliveries.c.idempotency_key.in_(list(keys)))
    return where


async def try_lock(conn: AsyncConnection, delivery_id: int) -> bool:
    """Take the row's advisory lock for `conn`'s session, if free. It outlives transactions and is
    released only when the connection closes: the caller must close it, not return it to a pool."""
    return bool(await conn.scalar(select(func.pg_try_advisory_lock(_LOCK_BASE + delivery_id))))


UNCERTAIN = (
    "claimed by an attempt that stopped before recording its outcome (the worker died or failed "
    "between claim and record): it may have been sent, so it is not sent again; check with the "
    "receiver (message id {id}) and resend by hand if it never arrived"
)


async def sweep(conn: AsyncConnection, campaign_id: str, keys: Sequence[str] | None) -> int:
    """Mark rows whose claimer is gone `uncertain`; returns how many. The caller commits."""
    rows = (
        await conn.execute(
            select(deliveries.c.id, deliveries.c.idempotency_key).where(
                *_scope(campaign_id, keys), deliveries.c.status == DeliveryStatus.sending.value
            )
        )
    ).all()
    n = 0
    for rid, key in rows:
        if not await try_lock(conn, rid):
            continue  # a live dispatch call holds it: its outcome is on the way
        error = UNCERTAIN.format(id=delivery_id(key))
        attempt = (
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == rid, deliveries.c.status == DeliveryStatus.sending.value)
                .values(status=DeliveryStatus.uncertain.value, last_error=error)
                .returning(deliveries.c.attempts)
            )
        ).scalar()
        if attempt is None:
            continue  # recorded meanwhile
        await conn.execute(
            update(delivery_attempts)
            .where(
                delivery_attempts.c.delivery_id == rid,
                delivery_attempts.c.attempt == attempt,
                delivery_attempts.c.outcome.is_(None),
            )
            .values(finished_at=func.now(), outcome=AttemptOutcome.uncertain.value, error=error)
        )
        n += 1
    return n


@dataclass
class Claimed:
    """A row claimed for sending, with what sending it needs."""

    id: int
    key: str
    campaign_id: str
    recipient: str
    channel: str
    address: str
    secret_env: str | None
    subject: str
    body: str
    payload: dict[str, Any]
    plan_time: datetime
    server_time: datetime
    attempt: int
    attachments: list[Attachment] = field(default_factory=list)


async def claim(
    conn: AsyncConnection,
    campaign_id: str,
    keys: Sequence[str] | None,
    *,
    as_of: datetime,
    limit: int,
    skip: Sequence[int] = (),
) -> list[Claimed]:
    """Claim up to `limit` due pending rows (oldest not_before first), leaving out the ids in
    `skip` (already tried in this call: one call sends a row at most once). The caller commits."""
    where = [
        *_scope(campaign_id, keys),
        deliveries.c.status == DeliveryStatus.pending.value,
        deliveries.c.not_before <= as_of,
    ]
    if skip:
        where.append(deliveries.c.id.not_in(list(skip)))
    candidates = (
        await conn.execute(
            select(deliveries.c.id)
            .where(*where)
            .order_by(deliveries.c.not_before, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # another dispatch call is claiming these
        )
    ).scalars()
    # The advisory lock is taken before `sending` becomes visible, so no sweeper can ever
    # mistake this claim for a dead one.
    ids = [rid for rid in candidates if await try_lock(conn, rid)]
    if not ids:
        return []
    rows = (
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(status=DeliveryStatus.sending.value, attempts=deliveries.c.attempts + 1)
            .returning(*deliveries.c)
        )
    ).all()
    await conn.execute(insert(delivery_attempts).values([{"delivery_id": r.id, "attempt": r.attempts} for r in rows]))
    files = (
        await conn.execute(
            select(delivery_attachments, delivery_blobs.c.content)
            .join(delivery_blobs, delivery_blobs.c.sha256 == delivery_attachments.c.sha256)
            .where(delivery_attachments.c.delivery_id.in_(ids))
            .order_by(delivery_attachments.c.delivery_id, delivery_attachments.c.position)
        )
    ).all()
    out = {
        r.id: Claimed(
            id=r.id,
            key=r.idempotency_key,
            campaign_id=r.campaign_id,
            recipient=r.recipient,
            channel=r.channel,
            address=r.address,
            secret_env=r.secret_env,
            subject=r.subject,
            body=r.body,
            payload=r.payload,
            plan_time=r.plan_time,
            server_time=r.server_time,
            attempt=r.attempts,
        )
        for r in rows
    }
    for f in files:
        out[f.delivery_id].attachments.append(
            Attachment(filename=f.filename, content=f.content, content_type=f.content_type)
        )
    return sorted(out.values(), key=lambda c: c.id)


async def record(
    conn: AsyncConnection,
    c: Claimed,
    outcome: AttemptOutcome,
    *,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    """Record an attempt's outcome on the row and on its attempt row."""
    values: dict[str, Any] = {"last_error": error}
    if outcome is AttemptOutcome.sent:
        values.update(status=DeliveryStatus.sent.value, sent_at=func.now())
    elif outcome is AttemptOutcome.retry:
        assert retry_at is not None
        values.update(status=DeliveryStatus.pending.value, not_before=retry_at)
    else:
        values.update(status=DeliveryStatus.failed.value)
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == c.id, deliveries.c.status == DeliveryStatus.sending.value)
        .values(**values)
    )
    await conn.execute(
        update(delivery_attempts)
        .where(delivery_attempts.c.delivery_id == c.id, delivery_attempts.c.attempt == c.attempt)
        .values(finished_at=func.now(), outcome=outcome.value, error=error)
    )


async def pending_summary(
    conn: AsyncConnection, campaign_id: str, keys: Sequence[str] | None
) -> tuple[int, datetime | None]:
    """How many rows are still pending in scope, and the earliest not_before among them."""
    n, first = (
        await conn.execute(
            select(func.count(), func.min(deliveries.c.not_before)).where(
                *_scope(campaign_id, keys), deliveries.c.status == DeliveryStatus.pending.value
            )
        )
    ).one()
    return int(n), first


async def ledger(conn: AsyncConnection, campaign_id: str, status: DeliveryStatus | None = None) -> list[dict[str, Any]]:
    """The campaign's deliveries (oldest first), each with its attempts and attachment names."""
    q = select(deliveries).where(deliveries.c.campaign_id == campaign_id)
    if status is not None:
        q = q.where(deliveries.c.status == status.value)
    rows = (await conn.execute(q.order_by(deliveries.c.not_before, deliveries.c.id))).mappings().all()
    ids = [r["id"] for r in rows]
    attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    files: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for a in (
            await conn.execute(
                select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id.in_(ids))
                .order_by(delivery_attempts.c.delivery_id, delivery_attempts.c.attempt)
            )
        ).mappings():
            attempts[a["delivery_id"]].append(dict(a))
        for f in (
            await conn.execute(
                select(delivery_attachments, delivery_blobs.c.size)
                .join(delivery_blobs, delivery_blobs.c.sha256 == delivery_attachments.c.sha256)
                .where(delivery_attachments.c.delivery_id.in_(ids))
                .order_by(delivery_attachments.c.delivery_id, delivery_attachments.c.position)
            )
        ).mappings():
            files[f["delivery_id"]].append(dict(f))
    return [{**r, "attempt_rows": attempts[r["id"]], "attachment_rows": files[r["id"]]} for r in rows]


async def counts(conn: AsyncConnection, campaign_id: str) -> dict[tuple[str, str], int]:
    """(channel, status) → rows, for a campaign."""
    q = (
        select(deliveries.c.channel, deliveries.c.status, func.count())
        .where(deliveries.c.campaign_id == campaign_id)
        .group_by(deliveries.c.channel, deliveries.c.status)
    )
    return {(ch, st): int(n) for ch, st, n in (await conn.execute(q)).all()}
