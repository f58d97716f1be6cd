"""`duban convener list|instruct`: the escalations that reached the convener (召集人), of
obligations and of 责令整改 orders, and its answer to one (批示)."""

from __future__ import annotations

import json
from typing import Any

import typer

from cli.common import call, iso, operator, out
from services import convener
from services.actors import Actor

app = typer.Typer(no_args_is_help=True, help="召集人批示: escalations that reached the convener, and its answers.")


def _as_convener() -> Actor:
    """The operator answering as the convener: the shell is the server's, as for `as_office`; the
    audit row names the operator's account (`cli:<login>`) and the role."""
    return Actor(account=operator(), role="convener")


def _answers(items: Any) -> list[dict[str, Any]]:
    return [{"at": iso(a.plan_time), "account": a.account, "text": a.text} for a in items]


@app.command("list")
def list_(campaign: str, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """What reached the convener: obligations and rectification orders, with the answers given."""
    page = call(lambda ctx: convener.escalations(ctx, actor=_as_convener(), campaign=campaign))
    rows: list[dict[str, Any]] = [
        {"kind": "obligation", "id": i.obligation_id, "unit": i.unit_id, "title": i.title, "state": i.state,
         "level": i.level, "escalated": iso(i.escalated_at), "answers": _answers(i.answers)}
        for i in page.items
    ] + [
        {"kind": "order", "id": o.order_id, "unit": o.unit_id, "title": o.title, "state": o.state,
         "level": o.level, "escalated": iso(o.escalated_at), "answers": _answers(o.answers)}
        for o in page.orders
    ]  # fmt: skip
    if as_json:
        doc = {"campaign": campaign, "convener": page.convener, "escalations": rows}
        out.print(json.dumps(doc, ensure_ascii=False, indent=2), markup=False)
        return
    for r in rows:
        said = f", {len(r['answers'])} 批示" if r["answers"] else ""
        out.print(f"{r['kind']} {r['id']} ({r['unit']}): level {r['level']}, {r['state']}{said}", markup=False)
    out.print(f"{campaign}: {len(rows)} escalations reached the convener ({page.convener})", markup=False)


@app.command("instruct")
def instruct(
    subject: str = typer.Argument(..., metavar="OBLIGATION|ORDER"),
    text: str = typer.Option(..., "--text", help="The 批示."),
) -> None:
    """批示: the convener answers an escalation of an obligation or a 责令整改 order (CAMPAIGN/rectify/…)."""
    if "/rectify/" in subject:
        v = call(lambda ctx: convener.answer_order(ctx, actor=_as_convener(), order=subject, text=text))
        out.print(f"{v.workflow_id}: 批示 recorded ({v.state.value}, round {v.round})", markup=False)
        return
    ob = call(lambda ctx: convener.answer(ctx, actor=_as_convener(), obligation=subject, text=text))
    out.print(f"{ob.id}: 批示 recorded ({ob.state.value})", markup=False)
