"""A month's 通报 and 台账 rendered when first asked for, when the worker that published it left
them for later (a rehearsal: `Settings.rehearsal_papers`).

Such a bulletin's audit row holds both documents' whole input (`document`: the 通报 and the 台账
as `models.documents` dump them) instead of the files' hashes, so rendering them now gives the
bytes rendering at publication would have. The files are stored once, their SHA-256 beside them
and in the bulletin's body (`documents`, the key a bulletin rendered at publication has always
had), and read back checked like any other. Bulletins published with their files (any worker
with an outbox, every campaign before this) keep their hashes on the chain and are left alone.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents import RenderedFile, RenderedSet, render_bulletin, render_ledger_xlsx
from activities.store import documents
from activities.store.tables import audit_events, bulletins
from models.documents import Bulletin, Ledger


def bulletin_key(campaign_id: str, month: date) -> str:
    """The bulletin's audit row (and its idempotency) key."""
    return f"{campaign_id}#bulletin#{month.isoformat()}"


def document_input(bulletin: Bulletin, ledger: Ledger) -> dict[str, Any]:
    """What the audit row records in place of the files' hashes: both documents' whole input."""
    return {"bulletin": bulletin.model_dump(mode="json"), "ledger": pack_ledger(ledger)}


def render_papers(record: dict[str, Any]) -> tuple[RenderedSet, RenderedFile]:
    """The 通报 (DOCX + PDF) and the 台账 (XLSX) from an audit row's document input."""
    doc = record["document"]
    return (
        render_bulletin(Bulletin.model_validate(doc["bulletin"])),
        render_ledger_xlsx(unpack_ledger(doc["ledger"])),
    )


def pack_ledger(ledger: Ledger) -> dict[str, Any]:
    """The 台账's input as a table: a county's is every obligation each month (707 rows), and as
    one JSON object per row it was three quarters of a rehearsal's whole audit chain. Columns
    once; text columns as indexes into one list of distinct strings (a task's title and lead
    recur in every town); obligation ids without the campaign's id, which every one begins with."""
    data = ledger.model_dump(mode="json")
    rows: list[dict[str, Any]] = data.pop("rows")
    prefix = f"{ledger.campaign_id}/"
    if not all(r["obligation_id"].startswith(prefix) for r in rows):
        prefix = ""
    columns = list(rows[0]) if rows else []
    text = [c for c in columns if all(r[c] is None or isinstance(r[c], str) for r in rows)]
    strings: dict[str, int] = {}

    def cell(column: str, v: Any) -> Any:
        if column not in text or v is None:
            return v
        if column == "obligation_id":
            v = v[len(prefix) :]
        return strings.setdefault(v, len(strings))

    table = [[cell(c, r[c]) for c in columns] for r in rows]
    return {**data, "id_prefix": prefix, "columns": columns, "text": text, "strings": list(strings), "rows": table}


def unpack_ledger(packed: dict[str, Any]) -> Ledger:
    data = dict(packed)
    prefix, columns, strings = data.pop("id_prefix"), data.pop("columns"), data.pop("strings")
    text = set(data.pop("text"))
    rows = []
    for values in data.pop("rows"):
        row = {c: strings[v] if c in text and v is not None else v for c, v in zip(columns, values, strict=True)}
        row["obligation_id"] = prefix + row["obligation_id"]
        rows.append(row)
    return Ledger.model_validate({**data, "rows": rows})


async def file_bulletin_on_request(conn: AsyncConnection, campaign_id: str, month: date) -> bool:
    """Render and store a bulletin's papers in the caller's transaction if it was published
    without them; False when there is nothing to do (no such bulletin, already filed, or
    published with its files)."""
    # Locked, so two first requests at once render and store it once.
    q = (
        select(bulletins.c.id, bulletins.c.body, bulletins.c.plan_time, bulletins.c.server_time)
        .where(bulletins.c.campaign_id == campaign_id, bulletins.c.month == month)
        .with_for_update()
    )
    row = (await conn.execute(q)).first()
    if row is None or row.body.get("documents"):
        return False
    ref = f"{month:%Y-%m}"
    if await documents.exists(conn, campaign_id, "bulletin", ref):
        return False
    payload = await conn.scalar(
        select(audit_events.c.payload).where(
            audit_events.c.campaign_id == campaign_id, audit_events.c.event_key == bulletin_key(campaign_id, month)
        )
    )
    record: dict[str, Any] = json.loads(payload) if payload is not None else {}
    if "document" not in record:
        return False
    # CPU-bound (about a second for a county): off the event loop.
    files, sheet = await asyncio.to_thread(render_papers, record)
    hashes = {}
    for kind, filed in (("bulletin", dict(files)), ("ledger", {"xlsx": sheet})):
        hashes[kind] = await documents.store(
            conn, campaign_id=campaign_id, kind=kind, ref=ref, files=filed,
            plan_time=row.plan_time, server_time=row.server_time,
        )  # fmt: skip
    # The body names the files' hashes as a bulletin filed at publication does, so every reader
    # (`duban bulletin --json`, the checked read-back) sees one shape.
    await conn.execute(update(bulletins).where(bulletins.c.id == row.id).values(body={**row.body, "documents": hashes}))
    return True
