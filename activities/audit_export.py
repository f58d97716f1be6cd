"""For auditors: a campaign's record exported.

`export` writes a campaign's chain as JSON lines (every column, the hashes included, so the chain
can be recomputed from the file alone) and as a spreadsheet, checks the chain on the rows it
wrote, and saves the campaign's Temporal workflow histories when the server can list them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.campaign.common import campaign_counts
from activities.config import Settings
from activities.spreadsheet import cells as _cells
from activities.store.audit import GENESIS, payload_of, verify
from activities.store.tables import audit_events, audit_heads, campaigns
from models.time import CST

log = structlog.get_logger()


class UnknownCampaign(LookupError):
    """No campaign of that id."""


Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is "rows" or "histories"."""

_COLUMNS = [c.name for c in audit_events.columns]
# (header, width) of the spreadsheet's audit sheet, in order.
_SHEET = (
    ("seq", 8),
    ("plan time (Asia/Shanghai)", 19),
    ("server time (UTC)", 19),
    ("kind", 24),
    ("actor", 26),
    ("obligation", 46),
    ("unit", 14),
    ("rule", 20),
    ("detail", 48),
    ("payload", 60),
    ("event key", 52),
    ("workflow", 40),
    ("run", 38),
    ("rule-set hash", 24),
    ("plan hash", 24),
    ("payload digest", 24),
    ("prev hash", 24),
    ("hash", 24),
)
_EXCEL_ROWS = 1_048_576
NO_CLIENT = "workflow histories not exported: no Temporal client"


@dataclass
class ExportSummary:
    campaign_id: str
    out_dir: Path
    rows: int = 0
    head: str = GENESIS
    chain_ok: bool = True
    problems: list[str] = field(default_factory=list)
    histories: int = 0
    warnings: list[str] = field(default_factory=list)


def json_row(r: Any) -> dict[str, Any]:
    """A chain row as a JSON object: every column, payload parsed, times ISO 8601 with offset
    (plan time in Asia/Shanghai, server time in UTC), microseconds kept so the hashes can be
    recomputed from the file."""
    out: dict[str, Any] = {}
    for c in _COLUMNS:
        v = r[c]
        if c == "plan_time":
            v = v.astimezone(CST).isoformat()
        elif c == "server_time":
            v = v.astimezone(UTC).isoformat()
        elif c == "payload":
            v = payload_of(r)
        out[c] = v
    return out


async def export(
    conn: AsyncConnection,
    campaign_id: str,
    out_dir: Path,
    client: Any = None,
    *,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write DIR/audit.jsonl, DIR/audit.xlsx and, with a client that can list workflows,
    DIR/histories/*.json.

    The rows exported are the chain up to its head as read at the start, so a running campaign
    exports a consistent prefix; `chain_ok` is `activities.store.audit.verify` over the same
    prefix.

    Raises:
        UnknownCampaign: no campaign of that id (nothing is written).
    """
    campaign = (await conn.execute(select(campaigns).where(campaigns.c.id == campaign_id))).first()
    if campaign is None:
        raise UnknownCampaign(f"no campaign {campaign_id!r}")
    head = (await conn.execute(select(audit_heads).where(audit_heads.c.campaign_id == campaign_id))).first()
    last = head.seq if head is not None else 0
    counts = await campaign_counts(conn, campaign_id)
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    summary = ExportSummary(campaign_id=campaign_id, out_dir=out_dir)
    sheets = await _write_rows(conn, campaign_id, last, out_dir, summary, progress)
    if head is not None:
        report = await verify(conn, campaign_id)
        summary.chain_ok, summary.problems, summary.head = report.ok, report.problems, report.head
    if client is None:
        summary.warnings.append(NO_CLIENT)
    else:
        await _write_histories(client, campaign_id, out_dir / "histories", summary, progress)
    _campaign_sheet(sheets, campaign, counts, summary)
    await asyncio.to_thread(sheets.save, out_dir / "audit.xlsx")
    log.info("audit exported", campaign_id=campaign_id, rows=summary.rows, histories=summary.histories)
    return summary


class _Sheets:
    """The workbook, write-only (constant memory, each sheet streamed to a temporary file): the
    audit sheet, continued on "audit-2", … past Excel's row limit, then the campaign sheet."""

    def __init__(self) -> None:
        from openpyxl import Workbook

        self.book = Workbook(write_only=True)
        self.n = 0
        self.sheets = 0
        self.rows = 0
        self._new()

    def _new(self) -> None:
        from openpyxl.utils import get_column_letter

        self.sheets += 1
        ws = self.book.create_sheet("audit" if self.sheets == 1 else f"audit-{self.sheets}")
        for i, (_, width) in enumerate(_SHEET, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        ws.append(_cells(ws, [name for name, _ in _SHEET], bold=True))
        self.ws, self.rows = ws, 1

    def append(self, values: Sequence[Any]) -> None:
        if self.rows >= _EXCEL_ROWS:
            self._close()
            self._new()
        self.ws.append(_cells(self.ws, values))
        self.rows += 1

    def _close(self) -> None:
        from openpyxl.utils import get_column_letter

        self.ws.auto_filter.ref = f"A1:{get_column_letter(len(_SHEET))}{self.rows}"

    def save(self, path: Path) -> None:
        self._close()
        self.book.save(path)


def _sheet_row(r: Any, payload: dict[str, Any]) -> list[Any]:
    detail = payload.get("title") or payload.get("code") or payload.get("text") or payload.get("month") or ""
    return [
        r["seq"],
        r["plan_time"].astimezone(CST).replace(tzinfo=None),
        r["server_time"].astimezone(UTC).replace(tzinfo=None),
        r["kind"],
        r["actor"],
        r["obligation_id"],
        r["unit_id"],
        r["rule_id"],
        detail if isinstance(detail, str) else str(detail),
        r["payload"][:32767],  # a cell holds at most 32,767 characters; audit.jsonl has it whole
        r["event_key"],
        r["workflow_id"],
        r["run_id"],
        r["ruleset_hash"],
        r["plan_hash"],
        r["payload_digest"],
        r["prev_hash"],
        r["hash"],
    ]


async def _write_rows(
    conn: AsyncConnection,
    campaign_id: str,
    last: int,
    out_dir: Path,
    summary: ExportSummary,
    progress: Progress | None,
) -> _Sheets:
    sheets = _Sheets()
    q = (
        select(audit_events)
        .where(audit_events.c.campaign_id == campaign_id, audit_events.c.seq <= last)
        .order_by(audit_events.c.seq)
        .execution_options(yield_per=2000)
    )
    with (out_dir / "audit.jsonl").open("w", encoding="utf-8") as f:
        result = await conn.stream(q)
        async for r in result.mappings():
            f.write(json.dumps(json_row(r), ensure_ascii=False) + "\n")
            sheets.append(_sheet_row(r, payload_of(r)))
            summary.rows += 1
            if progress is not None and summary.rows % 500 == 0:
                progress("rows", summary.rows, last)
    if progress is not None:
        progress("rows", summary.rows, last)
    return sheets


def _campaign_sheet(sheets: _Sheets, campaign: Any, counts: dict[str, int], summary: ExportSummary) -> None:
    def naive(t: datetime | None, tz: Any) -> datetime | str:
        return t.astimezone(tz).replace(tzinfo=None) if t is not None else ""

    ws = sheets.book.create_sheet("campaign")
    ws.column_dimensions["A"].width = 38
    ws.column_dimensions["B"].width = 72
    ws.freeze_panes = "A2"
    ruleset = campaign.ruleset or {}
    rows: list[tuple[str, Any]] = [
        ("campaign", campaign.id),
        ("plan", campaign.plan_id),
        ("plan title", campaign.plan_title),
        ("plan hash", campaign.plan_hash),
        ("rule set", f"{campaign.ruleset_id} v{ruleset.get('version', '?')}"),
        ("rule-set hash", campaign.ruleset_hash),
        ("calendar hash", campaign.calendar_hash),
        ("status", campaign.status),
        ("launched (plan time, Asia/Shanghai)", naive(campaign.launched_plan_time, CST)),
        ("launched (server time, UTC)", naive(campaign.launched_server_time, UTC)),
        ("closed (plan time, Asia/Shanghai)", naive(campaign.closed_plan_time, CST)),
        ("plan time = server time − seconds", campaign.offset_seconds),
        ("audit rows exported", summary.rows),
        ("chain head", summary.head),
        ("chain holds", "yes" if summary.chain_ok else "NO: " + "; ".join(summary.problems[:5])),
        ("workflow histories exported", summary.histories),
        *((f"count: {k}", v) for k, v in counts.items()),
        ("exported at (UTC)", datetime.now(UTC).replace(tzinfo=None, microsecond=0)),
    ]
    ws.append(_cells(ws, ["field", "value"], bold=True))
    for k, v in rows:
        ws.append(_cells(ws, [k, v]))


async def _write_histories(
    client: Any, campaign_id: str, folder: Path, summary: ExportSummary, progress: Progress | None
) -> None:
    """Every run of every workflow of the campaign, saved as `activities.history.save` names
    them (ID with '/' as '__', then '__RUN.json'), so `duban audit verify CAMPAIGN --histories
    DIR/histories` replays and cross-checks an export."""
    from temporalio.service import RPCError

    from activities import history

    # STARTS_WITH alone would also match campaign "X2" for campaign "X": keep X and X/….
    try:
        found = [
            w
            async for w in client.list_workflows(f'WorkflowId STARTS_WITH "{campaign_id}"')
            if w.id == campaign_id or w.id.startswith(campaign_id + "/")
        ]
    except (RPCError, OSError, RuntimeError) as e:
        summary.warnings.append(f"workflow histories not exported: the Temporal server cannot list workflows ({e})")
        return
    if not found:
        summary.warnings.append(f"no workflows of {campaign_id} on the Temporal server: no histories exported")
        return
    gate = asyncio.Semaphore(8)
    done = 0

    async def one(w: Any) -> Any:
        nonlocal done
        async with gate:
            h = await client.get_workflow_handle(w.id, run_id=w.run_id).fetch_history()
        done += 1
        if progress is not None:
            progress("histories", done, len(found))
        return h

    fetched = await asyncio.gather(*(one(w) for w in found), return_exceptions=True)
    histories = [h for h in fetched if not isinstance(h, BaseException)]
    failed = [(w, err) for w, err in zip(found, fetched, strict=True) if isinstance(err, BaseException)]
    for w, err in failed[:5]:
        summary.warnings.append(f"history of {w.id} (run {w.run_id}) not exported: {err}")
    if len(failed) > 5:
        summary.warnings.append(f"… and {len(failed) - 5} more histories not exported")
    summary.histories = await asyncio.to_thread(history.save, histories, folder)


async def reachable_client(settings: Settings) -> tuple[Any, str | None]:
    """A Temporal client if the configured server answers now, else (None, why). An export never
    starts a server (`connect(start=False)`)."""
    from activities.servers import connect

    try:
        async with asyncio.timeout(10):
            return await connect(settings, start=False), None
    except RuntimeError as e:  # nothing listens, or production without an address
        return None, str(e)
    except Exception as e:  # any failure to reach it means: export without histories
        return None, f"cannot reach the Temporal server: {e}"
