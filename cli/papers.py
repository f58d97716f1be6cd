"""`duban notices|notice|bulletin|deliveries|evaluation`: the papers a campaign issued, as
issued, with their stored files (checked against the SHA-256 on the record before writing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.common import call, err, iso, out, parse_month, write_files
from models.delivery import DeliveryStatus, delivery_id
from models.time import CST
from models.views import Delivery, PaperFile
from services import papers, scores

SEVERITY_LABELS = {"blue": "蓝", "yellow": "黄", "red": "红"}
COLOUR_LABELS = {"green": "绿", "yellow": "黄", "red": "红"}
_JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _dump(data: Any) -> None:
    out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False)


def _file_info(files: dict[str, PaperFile]) -> dict[str, dict[str, Any]]:
    return {fmt: {"filename": f.filename, "sha256": f.sha256, "size": len(f.content)} for fmt, f in files.items()}


def _list_files(files: dict[str, PaperFile]) -> None:
    for fmt, f in files.items():
        out.print(f"{fmt:<12}{f.filename} sha256 {f.sha256}", markup=False)


def _severity(colour: str | None, labels: dict[str, str] = SEVERITY_LABELS) -> str:
    return f"{colour or ''} {labels.get(colour or '', '')}".strip()


def notices(
    campaign: str,
    unit: str | None = typer.Option(None, "--unit", help="Only the notices to this unit (its id)."),
    as_json: bool = _JSON,
) -> None:
    """A campaign's 督办通知: number, date, unit, severity (三色督办), obligation, escalation level."""
    rows = call(lambda ctx: papers.notices(ctx, campaign=campaign, unit=unit))
    if as_json:
        _dump({"campaign": campaign, "notices": [r.model_dump(mode="json") for r in rows]})
        return
    t = Table("code", "date", "unit", "severity", "obligation", "level")
    for r in rows:
        t.add_row(r.code, r.date, f"{r.unit_name} ({r.unit})", _severity(r.severity), r.obligation, str(r.level))
    if rows:
        out.print(t)
    out.print(f"{campaign}: {len(rows)} notices" + (f" to {unit}" if unit else ""), markup=False)


def notice(
    code: str,
    campaign: str | None = typer.Option(None, "--campaign", help="The campaign, when several number alike."),
    docx: Path | None = typer.Option(None, "--docx", help="Write the stored DOCX here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the stored PDF here."),
    as_json: bool = _JSON,
) -> None:
    """One 督办通知 as issued; with --docx/--pdf, write its stored files (checked against the SHA-256
    recorded when it was issued)."""
    paper = call(lambda ctx: papers.notice(ctx, code=code, campaign=campaign))
    n, record, names = paper.notice, paper.record, paper.names
    write_files(f"notice {code}", paper.files, {"docx": docx, "pdf": pdf})
    data = {
        **n.model_dump(mode="json"),
        "copy_to": record.get("copy_to", n.copy_to),
        "overdue": record.get("overdue", []),
        "reply_by": record.get("reply_by"),
        "files": _file_info(paper.files),
    }
    if as_json:
        _dump(data)
        return
    copies = data["copy_to"] if isinstance(data["copy_to"], list) else [data["copy_to"]]
    for k, v in (
        ("notice", n.code),
        ("campaign", n.campaign),
        ("date", n.date),
        ("to", f"{n.unit_name} ({n.unit})"),
        ("copy to", ", ".join(f"{names.get(c, c)} ({c})" for c in copies if c) or "-"),
        ("severity", _severity(n.severity or "unknown")),
        ("level", n.level),
        ("obligation", n.obligation),
        ("overdue", ", ".join(data["overdue"]) or "-"),
        ("reply by", data["reply_by"] or "-"),
    ):
        out.print(f"{k:<12}{v}", markup=False)
    _list_files(paper.files)


def bulletin(
    campaign: str,
    month: str = typer.Argument(..., metavar="MONTH", help="YYYY-MM: the month reported on."),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Write the stored 台账 workbook here."),
    docx: Path | None = typer.Option(None, "--docx", help="Write the stored DOCX here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the stored PDF here."),
    as_json: bool = _JSON,
) -> None:
    """A month's 通报 as published: every unit's counts, 序时进度 and rank, who is commended and
    criticised, 责令整改 issued and still open; with --xlsx/--docx/--pdf, write its stored files
    (checked against the SHA-256 recorded in the bulletin)."""
    first = parse_month(month)
    paper = call(lambda ctx: papers.bulletin(ctx, campaign=campaign, month=first))
    body = paper.body
    write_files(f"bulletin {first:%Y-%m}", paper.files, {"xlsx": xlsx, "docx": docx, "pdf": pdf})
    if as_json:
        _dump({"campaign": campaign, **body, "files": _file_info(paper.files)})
        return
    units = body["units"]
    out.print(body.get("title") or f"{campaign} {first:%Y-%m}", markup=False)
    if totals := body.get("totals"):
        out.print(
            f"as of {body['as_of']}: {totals['units']} units, {totals['total']} obligations, {totals['done']} done "
            f"({totals['on_time']} on time, {totals['late']} late), {totals['overdue']} overdue",
            markup=False,
        )
    t = Table("rank", "unit", "total", "done", "on time", "late", "overdue", "序时进度", "progress", "colour")
    for i, u in enumerate(body["ranking"], start=1):
        s = units[u]
        t.add_row(
            str(s.get("rank", i)),
            f"{s['name']} ({u})",
            str(s["total"]),
            str(s["completed"]),
            str(s["on_time"]),
            str(s["late"]),
            str(s["overdue"]),
            f"{s['expected_progress']:.1f}%" if "expected_progress" in s else "-",
            f"{s['actual_progress']:.1f}%" if "actual_progress" in s else "-",
            _severity(s["colour"], COLOUR_LABELS),
        )
    out.print(t)

    def named(ids: list[str]) -> str:
        return ", ".join(f"{units[u]['name']} ({u})" if u in units else u for u in ids) or "-"

    out.print(f"commended   {named(body.get('commended', []))}", markup=False)
    out.print(f"criticised  {named(body.get('laggards', []))}", markup=False)
    for key, label in (("orders_issued", "orders"), ("orders_unresolved", "open orders")):
        listed = ", ".join(
            f"{o['unit_name']} ({o['month'][:7]}, due {o['due']}, {o['state']})" for o in body.get(key, [])
        )
        out.print(f"{label:<12}{listed or '-'}", markup=False)
    _list_files(paper.files)


def delivery_json(d: Delivery) -> dict[str, Any]:
    """One ledger row as `duban deliveries --json` prints it."""
    return {
        "key": d.key,
        "message_id": delivery_id(d.key),
        "recipient": d.recipient,
        "channel": d.channel,
        "address": d.address,
        "subject": d.subject,
        "status": d.status,
        "attempts": d.attempts,
        "not_before": iso(d.not_before),
        "not_before_plan_time": iso(d.not_before_plan_time),
        "plan_time": iso(d.plan_time),
        "sent_at": iso(d.sent_at),
        "last_error": d.last_error,
        "attachments": [a.model_dump(include={"filename", "sha256", "size", "content_type"}) for a in d.attachments],
        "attempt_log": [
            {
                "attempt": a.attempt,
                "started_at": iso(a.started_at),
                "finished_at": iso(a.finished_at),
                "outcome": a.outcome,
                "error": a.error,
            }
            for a in d.attempt_log
        ],
    }


def deliveries(
    campaign: str,
    status: DeliveryStatus | None = typer.Option(
        None, "--status", case_sensitive=False, help="Only rows in this state (failed, uncertain, pending, …)."
    ),
    as_json: bool = _JSON,
) -> None:
    """The delivery ledger: each e-mail and webhook push of a campaign, its state and attempts.

    `uncertain` rows were claimed by an attempt that died before recording its outcome: they may
    have arrived and are never re-sent automatically; check with the receiver by message id."""
    ledger = call(lambda ctx: papers.deliveries(ctx, campaign=campaign, status=status))
    rows = ledger.deliveries
    if as_json:
        _dump({"campaign": campaign, "counts": ledger.counts, "deliveries": [delivery_json(r) for r in rows]})
        return
    t = Table("not before (plan)", "recipient", "channel", "address", "status", "tries", "message id", "last error")
    for r in rows:
        t.add_row(
            f"{r.not_before_plan_time.astimezone(CST):%Y-%m-%d %H:%M}",
            r.recipient,
            r.channel,
            r.address,
            r.status,
            str(r.attempts),
            delivery_id(r.key),
            (r.last_error or "")[:80],
        )
    if rows:
        out.print(t)
    total = ", ".join(
        f"{ch}: " + " ".join(f"{n} {st}" for st, n in states.items()) for ch, states in ledger.counts.items()
    )
    shown = f"{len(rows)} {status.value}" if status else f"{len(rows)}"
    out.print(f"{campaign}: {shown} deliveries shown; ledger {total or 'empty'}", markup=False)
    if any(DeliveryStatus.uncertain.value in states for states in ledger.counts.values()):
        err.print(
            "uncertain deliveries may or may not have arrived and are not re-sent: check with the receiver "
            "by message id (see --status uncertain)",
            markup=False,
        )


def evaluation(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    docx: Path | None = typer.Option(None, "--docx", help="Write the final report (Word) here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the final report (PDF) here."),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Write the final report's workbook here."),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON (as stored)."),
) -> None:
    """The comprehensive evaluation (综合评价): ranking, standards met, laggards, 楚天杯
    recommendations, 长效管理 items; the files of the final report. The stored evaluation once
    the evaluation phase has ended; before then a provisional one, computed now and not stored."""
    wanted = {"docx": docx, "pdf": pdf, "xlsx": xlsx}
    answer = call(lambda ctx: scores.evaluation(ctx, campaign=campaign, render=any(wanted.values())))
    write_files(f"{campaign} final report", answer.files, wanted)
    if as_json:
        out.print(answer.raw.decode(), markup=False)
        return
    record, w = answer.record, answer.weights
    ev, names = record.evaluation, record.names
    state = "provisional, not stored" if record.provisional else "stored"
    t = Table(title=f"{campaign}: 综合评价 as of {record.as_of} ({state}; {record.scores} scores)", show_header=True)
    for col in ("rank", "unit", "name", "total"):
        t.add_column(col, justify="right" if col in ("rank", "total") else "left")
    t.add_column(f"timeliness {w.timeliness:g}%", justify="right")
    t.add_column(f"rectification {w.rectification:g}%", justify="right")
    t.add_column(f"assessment {w.assessment:g}%", justify="right")
    t.add_column("meets")
    t.add_column("open orders", justify="right")
    t.add_column("")
    commended, lagging = set(ev.commended), {x.unit_id: x for x in ev.laggards}
    for town in ev.towns:
        mark = (
            "楚天杯"
            if town.unit_id in commended
            else ("后进: " + ", ".join(lagging[town.unit_id].reasons) if town.unit_id in lagging else "")
        )
        t.add_row(
            str(town.rank),
            town.unit_id,
            names.get(town.unit_id, ""),
            f"{town.total:.2f}",
            f"{town.timeliness:.2f}",
            f"{town.rectification:.2f}",
            f"{town.assessment:.2f}",
            ",".join(town.meets) or "-",
            str(town.open_orders),
            mark,
        )
    out.print(t)
    for m, ids in ev.standards.items():
        out.print(f"meets {m}: {len(ids)} of {len(ev.towns)}", markup=False)
    out.print(f"楚天杯 recommended: {'、'.join(names[u] for u in ev.commended) or 'none'}", markup=False)
    people = [f"{n.person}（{n.unit_id}{n.title}）" for n in record.nominees]
    out.print(f"楚天杯 individuals nominated: {'、'.join(people) or 'none'}", markup=False)
    out.print(f"laggards (后进): {'、'.join(names[x.unit_id] for x in ev.laggards) or 'none'}", markup=False)
    for item in ev.long_term:
        out.print(
            f"长效管理: {item.sheet_id}.{item.criterion_id} {item.name}: failed {item.failed} of {item.scored}",
            markup=False,
        )
