"""`duban rectify list|report|review`: 责令整改 orders, the units' reports, the office's review."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from cli.common import UserError, act, as_office, call, iso, operator, out, parse_date
from models.rectification import OrderState, RectificationView
from services import rectification
from services.actors import acting_for
from services.context import Services
from services.rectification import order_campaign

app = typer.Typer(no_args_is_help=True, help="责令整改: rectification orders, the units' reports, the office's review.")


def _show(v: RectificationView) -> None:
    out.print(f"{v.workflow_id}: {v.state.value}, due {v.due.isoformat()}, round {v.round}", markup=False)


@app.command("report")
def report(
    order: str = typer.Argument(..., metavar="ORDER"),
    unit: str = typer.Option(..., "--unit", help="The reporting unit (the one ordered)."),
    text: str = typer.Option(..., "--text", help="The 整改报告: what was rectified."),
    evidence: list[str] = typer.Option([], "--evidence", help="A reference to an evidence file (repeatable)."),
) -> None:
    """整改报告: a unit reports what it rectified."""
    cid = order_campaign(order)
    _show(
        act(
            unit,
            cid,
            lambda ctx, actor: rectification.rectification_report(
                ctx, actor=actor, order=order, text=text, evidence=evidence
            ),
        )
    )


@app.command("review")
def review(
    order: str = typer.Argument(..., metavar="ORDER"),
    accept: bool = typer.Option(False, "--accept", help="Accept the report: the order is resolved."),
    reject: bool = typer.Option(False, "--reject", help="Send back (--reason); after the send-backs: rejected."),
    reason: str = typer.Option("", "--reason", help="Why it is rejected (or a note on acceptance)."),
    due: str | None = typer.Option(None, "--due", help="Send-backs: the new due date (default: rule set's days)."),
    reviewer: str | None = typer.Option(None, "--as", help="The reviewing unit (default: the campaign's office)."),
) -> None:
    """The office reviews a unit's 整改报告: --accept, or --reject --reason R [--due DATE]."""
    if accept == reject:
        raise UserError("give one of --accept or --reject (with --reason)")
    cid = order_campaign(order)
    new_due = parse_date(due) if due else None

    async def go(ctx: Services) -> RectificationView:
        # No --as: the campaign's office, as the order's workflow names it.
        actor = (
            as_office() if reviewer is None else await acting_for(ctx, account=operator(), unit=reviewer, campaign=cid)
        )
        return await rectification.rectification_review(
            ctx, actor=actor, order=order, accept=accept, reason=reason, new_due=new_due
        )

    _show(call(go))


@app.command("list")
def list_(
    campaign: str,
    open_only: bool = typer.Option(False, "--open", help="Only orders not resolved."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A campaign's rectification orders and where each stands (from the read side)."""
    rows: list[dict[str, Any]] = [
        {
            "order": o.order_id,
            "key": o.key,
            "unit": o.unit_id,
            "month": o.month.isoformat(),
            "issued": iso(o.plan_time),
            "due": o.due.isoformat(),
            "first_due": o.first_due.isoformat() if o.first_due else None,
            "state": o.state,
            "round": o.round,
            "source": o.source,
            "level": o.level,
            "measure": o.measure or "责令整改",
            "items": o.items,
            "followed": o.workflow_id is not None,
            "report": o.report_text,
            "evidence": o.evidence,
            "reported_at": iso(o.reported_at),
            "reviewer": o.reviewer,
            "review_reason": o.review_reason,
            "reviewed_at": iso(o.reviewed_at),
            "escalated_at": iso(o.escalated_at),
            "resolved_at": iso(o.resolved_at),
        }
        for o in call(lambda ctx: rectification.orders(ctx, campaign=campaign, open_only=open_only))
    ]
    if as_json:
        out.print(json.dumps({"campaign": campaign, "orders": rows}, ensure_ascii=False, indent=2), markup=False)
        return
    table = Table("order", "unit", "measure", "items", "issued", "due", "state", "round", "report")
    for r in rows:
        issued = r["issued"][:10] if r["issued"] else ""
        table.add_row(
            r["order"], r["unit"], r["measure"], str(len(r["items"]) or ""), issued, r["due"], r["state"],
            str(r["round"]), (r["report"] or "")[:40],
        )  # fmt: skip
    if rows:
        out.print(table)
    unresolved = sum(r["state"] != OrderState.resolved.value for r in rows)
    rejected = sum(r["state"] == OrderState.rejected.value for r in rows)
    out.print(
        f"{campaign}: {len(rows)} orders shown, {unresolved} not resolved ({rejected} closed rejected)", markup=False
    )
