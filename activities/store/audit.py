"""The audit trail: an append-only hash chain per campaign.

Row n's hash is SHA-256(hash of row n-1, as hex text ‖ content digest of row n), where the content digest is
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

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NotRequired, Protocol, TypedDict, Unpack

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


class Stamped(Protocol):
    """What an event happens at: every activity input (and fired action) carries the plan time
    and server time its workflow stamped on it."""

    @property
    def plan_time(self) -> datetime: ...

    @property
    def server_time(self) -> datetime: ...


class Times(TypedDict):
    plan_time: datetime
    server_time: datetime


def times(at: Stamped) -> Times:
    """`at`'s plan and server time, as the keyword arguments of an event, a row or an inbox item."""
    return {"plan_time": at.plan_time, "server_time": at.server_time}


class Fields(TypedDict):
    """An event's own fields: all but its times, which come from what it happens at."""

    key: str
    kind: str
    actor: str
    payload: NotRequired[dict[str, Any]]
    obligation_id: NotRequired[str | None]
    unit_id: NotRequired[str | None]
    rule_id: NotRequired[str | None]


class Recorded(Stamped, Protocol):
    """An activity input that names its campaign's chain."""

    @property
    def provenance(self) -> Provenance: ...


def event(at: Stamped, **fields: Unpack[Fields]) -> Event:
    """An event at `at`'s plan and server time."""
    return Event(**times(at), **fields)


async def record(conn: AsyncConnection, inp: Recorded, **fields: Unpack[Fields]) -> int:
    """Append one event at `inp`'s times to its campaign's chain; returns 1 if it was new."""
    return await append(conn, inp.provenance, [event(inp, **fields)])


def _json_default(v: Any) -> str:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEP, NULL = "\x1f", "\x1e"  # ASCII unit and record separators: never in ids, keys or hashes


def _field(v: Any) -> str:
    if v is None:
        return NULL
    if isinstance(v, datetime):
        return str((v - EPOCH) // timedelta(microseconds=1))  # exact, and what PostgreSQL computes too
    return str(v)


def encode(row: dict[str, Any]) -> str:
    """A row's content as one string: fields joined by US, NULL as RS, times as epoch µs."""
    return SEP.join(_field(row[f]) for f in FIELDS)


def content_digest(row: dict[str, Any]) -> bytes:
    return hashlib.sha256(encode(row).encode()).digest()


def link(prev_hash: str, digest: bytes) -> str:
    """The next hash: over the previous hash as stored (its hex text) and this row's digest.
    Hashing the text rather than decoding it lets PostgreSQL check a row whose stored hash was
    overwritten with anything at all, without a guard per row."""
    return hashlib.sha256(prev_hash.encode() + digest).hexdigest()


def _sql_field(name: str) -> str:
    if name in _TIMES:
        return f"((extract(epoch FROM {name}) * 1000000)::bigint)::text"
    if name == "seq":
        return "seq::text"
    return f"coalesce({name}, chr(30))"


_CONTENT_SQL = "sha256(convert_to(concat_ws(chr(31), " + ", ".join(_sql_field(f) for f in FIELDS) + "), 'UTF8'))"

# The whole check, set-based: PostgreSQL recomputes every row's hash from its content and its
# stored predecessor link, and compares each link and sequence number with the row before (the
# window reaches one row below the range, so ranges can be checked in parallel). Only rows that
# fail come back.
_CHECK_SQL = """
SELECT seq, event_key, kind, prev_seq, relinked, payload_changed, content_changed FROM (
  SELECT seq, event_key, kind, seq >= $2 AS in_range,
         coalesce(lag(seq) OVER w, $5) AS prev_seq,
         prev_hash <> coalesce(lag(hash) OVER w, $4) AS relinked,
         encode(sha256(convert_to(payload, 'UTF8')), 'hex') <> payload_digest AS payload_changed,
         encode(sha256(convert_to(prev_hash, 'UTF8') || {content}), 'hex') <> hash AS content_changed
  FROM audit_events WHERE campaign_id = $1 AND seq BETWEEN $2 - 1 AND $3
  WINDOW w AS (ORDER BY seq)
) t WHERE in_range AND (seq <> prev_seq + 1 OR relinked OR payload_changed OR content_changed)
ORDER BY seq LIMIT $6
""".replace("{content}", _CONTENT_SQL)


async def append(conn: AsyncConnection, prov: Provenance, events: Sequence[Event]) -> int:
    """Append events to the campaign's chain inside the caller's transaction; returns how many
    were new."""
    return await append_all(conn, [(prov, events)])


async def append_all(conn: AsyncConnection, groups: Sequence[tuple[Provenance, Sequence[Event]]]) -> int:
    """Append several writers' events inside the caller's transaction, each group's rows with its
    own provenance and in the order given: one head lock, one key lookup and one insert per
    campaign however many groups (`deliver`s gathered into one transaction). Returns how many
    were new. Call it last before the commit: the heads stay locked until then."""
    by_campaign: dict[str, list[tuple[Provenance, Sequence[Event]]]] = {}
    for prov, events in groups:
        if events:
            by_campaign.setdefault(prov.campaign_id, []).append((prov, events))
    new = 0
    # Heads locked in one order, so two transactions appending to the same campaigns never wait
    # on each other crosswise.
    for cid in sorted(by_campaign):
        new += await _append_campaign(conn, cid, by_campaign[cid])
    return new


# An append's statements, sent as plain SQL: three per append, built once. Through SQLAlchemy's
# expression layer the four statements they replace cost about as much Python as the database's
# own work (BENCHMARKS.md, "session 25"); a rehearsal appends ~450 times.
_HEAD_SQL = (
    "INSERT INTO audit_heads (campaign_id, seq, hash) VALUES ($1, 0, $2) "
    "ON CONFLICT (campaign_id) DO UPDATE SET seq = audit_heads.seq RETURNING seq, hash"
)
_SEEN_SQL = "SELECT event_key FROM audit_events WHERE campaign_id = $1 AND event_key = ANY($2::text[])"
_COLUMNS = tuple(c.name for c in audit_events.columns if c.name != "campaign_id")
_ARRAY_TYPES = {"seq": "bigint", "plan_time": "timestamptz", "server_time": "timestamptz"}
_WRITE_SQL = (
    f"WITH written AS (INSERT INTO audit_events (campaign_id, {', '.join(_COLUMNS)}) SELECT $1, * FROM unnest("
    + ", ".join(f"${i}::{_ARRAY_TYPES.get(c, 'text')}[]" for i, c in enumerate(_COLUMNS, start=2))
    + f")) UPDATE audit_heads SET seq = ${len(_COLUMNS) + 2}, hash = ${len(_COLUMNS) + 3} WHERE campaign_id = $1"
)


async def _append_campaign(
    conn: AsyncConnection, cid: str, groups: Sequence[tuple[Provenance, Sequence[Event]]]
) -> int:
    # The head, made on first use and locked until the caller commits, in one round trip: the
    # no-op update on conflict takes the row lock as SELECT … FOR UPDATE did, so appends to one
    # campaign's chain still queue behind each other. Sent through SQLAlchemy, which begins the
    # caller's transaction on the driver's connection if nothing has yet; the driver's own calls
    # below then run inside it.
    head = (await conn.exec_driver_sql(_HEAD_SQL, (cid, GENESIS))).one()
    pg = (await conn.get_raw_connection()).driver_connection
    assert pg is not None
    # The keys already in the chain, read after the lock (its own statement, so its snapshot
    # holds whatever the appender before us committed): a retried activity adds nothing.
    keys = [e.key for _, events in groups for e in events]
    seen = {r[0] for r in await pg.fetch(_SEEN_SQL, cid, keys)}
    seq, prev = head.seq, head.hash
    rows = []
    for prov, events in groups:
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
        # The rows as one array per column, and the head moved to the last of them: one round trip.
        await pg.execute(_WRITE_SQL, cid, *([r[c] for r in rows] for c in _COLUMNS), seq, prev)
    return len(rows)


@dataclass
class ChainReport:
    ok: bool
    rows: int
    head: str
    problems: list[str]


async def verify(
    conn: AsyncConnection,
    campaign_id: str,
    *,
    limit: int = 20,
    engine: AsyncEngine | None = None,
    parallel: int = 2,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Recompute a campaign's chain in PostgreSQL; name the rows that do not hold (at most `limit`).

    A row whose content changed (its hash no longer follows from it), a payload changed behind
    its digest, a missing or inserted row (a gap, or a broken link), rows reordered, or rows cut
    from the end (the head remembers the last one). With an `engine`, large chains are checked
    in `parallel` ranges on their own connections; without, on `conn` (inside its transaction,
    if it has one).
    """
    head = (await conn.execute(select(audit_heads).where(audit_heads.c.campaign_id == campaign_id))).first()
    if head is None:
        return ChainReport(False, 0, "", [f"no audit trail for campaign {campaign_id!r}"])
    # Only the chain up to the head read above: a running campaign appends meanwhile, and its
    # new rows are checked next time.
    where = (audit_events.c.campaign_id == campaign_id) & (audit_events.c.seq <= head.seq)
    n, top = (await conn.execute(select(func.count(), func.max(audit_events.c.seq)).where(where))).one()
    top = top or 0
    last = (await conn.execute(select(audit_events.c.hash).where(where, audit_events.c.seq == top))).scalar() or GENESIS

    checked: list[int] = []  # rows checked so far, range by range, for `progress`

    async def check(c: AsyncConnection, lo: int, hi: int) -> list[Any]:
        pg = (await c.get_raw_connection()).driver_connection
        assert pg is not None
        first = lo == 1
        found = await pg.fetch(_CHECK_SQL, campaign_id, lo, hi, GENESIS if first else "", 0 if first else -2, limit)
        if progress is not None:
            checked.append(hi - lo + 1)
            progress(sum(checked))
        return list(found)

    async def check_apart(lo: int, hi: int) -> list[Any]:
        assert engine is not None
        async with engine.connect() as c:
            return await check(c, lo, hi)

    if engine is None or top < 100_000 or parallel < 2:
        bad = await check(conn, 1, top)
    else:
        step = -(-top // parallel)
        parts = await asyncio.gather(*(check_apart(lo, min(lo + step - 1, top)) for lo in range(1, top + 1, step)))
        bad = sorted((r for p in parts for r in p), key=lambda r: r["seq"])[:limit]
    problems = []
    for r in bad:
        at = f"row {r['seq']} ({r['kind']} {r['event_key']})"
        if r["seq"] != r["prev_seq"] + 1:
            expected = r["prev_seq"] + 1 if r["prev_seq"] >= 0 else r["seq"] - 1
            problems.append(f"{at}: expected row {expected}: a row is missing (deleted) or was inserted")
        elif r["relinked"]:
            problems.append(f"{at}: does not link to the row before it (rows reordered, or one inserted)")
        elif r["payload_changed"]:
            problems.append(f"{at}: payload changed after it was written")
        else:
            problems.append(f"{at}: content changed after it was written")
    if not problems and (n != head.seq or top != head.seq or last != head.hash):
        problems.append(f"the chain ends at row {top} but its head records row {head.seq}: rows were cut from the end")
    return ChainReport(not problems, n, last, problems)


def payload_of(row: Any) -> dict[str, Any]:
    """A row's payload (canonical JSON text) as a dict."""
    data: dict[str, Any] = json.loads(row["payload"])
    return data


def who(account: str | None, role: str | None) -> dict[str, str]:
    """What an audit payload adds about who acted for the unit: the account and its role, as the
    door proved them. Nothing when the Update carried none (histories from before accounts), so
    those rows, and their hashes, stay exactly as they were."""
    out = {"account": account} if account else {}
    if account and role:
        out["role"] = role
    return out
