"""`duban ack|report|complete|extend|extension|evaluate` and `duban inbox`: what a unit (or the
office) does to its obligations, and what it has been sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import typer

from activities.source_files import EvidenceUnreadable, read_evidence
from cli.common import UserError, act, call, out, parse_date
from models.payloads import ObligationView
from models.time import CST
from services import obligations
from services.actors import Actor
from services.context import Services
from services.obligations import EvidenceFile, campaign_of

_UNIT = typer.Option(..., "--unit", help="The acting unit's id.")
_OFFICE = typer.Option(..., "--unit", help="The office's unit id.")
_EVIDENCE = typer.Option([], "--evidence", help="A file to attach (佐证材料); repeatable.")


def _show(v: ObligationView) -> None:
    notes = [f"due {v.extended_due} (extended)"] if v.extended_due else []
    notes += [f"延期申请 to {v.pending_extension} waiting for the office"] if v.pending_extension else []
    notes += [f"evaluation: {v.evaluation}"] if v.evaluation else []
    out.print(f"{v.id}: {v.state.value} {v.progress}%" + "".join(f"; {n}" for n in notes))


def _on(
    obligation: str,
    unit: str,
    action: Callable[..., Awaitable[ObligationView]],
    files: Sequence[Path] = (),
    **fields: Any,
) -> None:
    """Act on the obligation as the unit through the service `action` (with `fields`, and the
    evidence `files` stored first), and show what the obligation has become."""
    cid = campaign_of(obligation)
    evidence = [EvidenceFile(name=f.name, content=_read(f)) for f in files]

    async def go(ctx: Services, actor: Actor) -> ObligationView:
        if evidence:
            fields["evidence"] = await obligations.store_evidence(ctx, files=evidence, campaign=cid)
        return await action(ctx, actor=actor, obligation=obligation, **fields)

    _show(act(unit, cid, go))


def _read(f: Path) -> bytes:
    """An evidence file's content: a regular file, never through a symbolic link."""
    try:
        return read_evidence(f, max_bytes=obligations.EVIDENCE_STORE_LIMIT)
    except EvidenceUnreadable as e:
        raise UserError(str(e)) from None


def ack(obligation: str, unit: str = _UNIT) -> None:
    """签收: acknowledge an obligation."""
    _on(obligation, unit, obligations.acknowledge)


def report(
    obligation: str,
    percent: int = typer.Option(..., "--percent", min=0, max=100),
    text: str = typer.Option("", "--text"),
    unit: str = typer.Option(..., "--unit"),
    evidence: list[Path] = _EVIDENCE,
) -> None:
    """进展上报: report progress on an obligation, with evidence files."""
    _on(obligation, unit, obligations.report_progress, evidence, percent=percent, text=text)


def complete(
    obligation: str,
    text: str = typer.Option("", "--text"),
    unit: str = typer.Option(..., "--unit"),
    evidence: list[Path] = _EVIDENCE,
) -> None:
    """办结: complete an obligation, with evidence files."""
    _on(obligation, unit, obligations.complete, evidence, text=text)


def extend(
    obligation: str,
    to: str = typer.Option(..., "--to", help="The due date asked for (YYYY-MM-DD)."),
    reason: str = typer.Option(..., "--reason", help="Why (延期理由)."),
    unit: str = typer.Option(..., "--unit"),
) -> None:
    """延期申请: ask the office for a later due date."""
    _on(obligation, unit, obligations.request_extension, due=parse_date(to), reason=reason)


def extension(
    obligation: str,
    approve: bool = typer.Option(..., "--approve/--refuse", help="The office's decision."),
    reason: str = typer.Option("", "--reason"),
    unit: str = _OFFICE,
) -> None:
    """The office decides a pending 延期申请: approved, the deadline and every later reminder and
    escalation move; refused, nothing moves."""
    _on(obligation, unit, obligations.decide_extension, approve=approve, reason=reason)


def evaluate(
    obligation: str,
    accept: bool = typer.Option(..., "--accept/--return", help="Accept the work, or return it (reopens it)."),
    reason: str = typer.Option("", "--reason"),
    unit: str = _OFFICE,
) -> None:
    """评价: the office accepts completed work, or returns it with reasons."""
    _on(obligation, unit, obligations.evaluate, accept=accept, reason=reason)


def inbox(
    unit: str,
    campaign: str | None = typer.Option(None, "--campaign"),
    limit: int = typer.Option(50, "--limit", min=1, help="Show the newest N messages."),
) -> None:
    """A unit's in-app inbox: reminders, escalations, notices, orders (the newest, oldest first)."""
    page = call(lambda ctx: obligations.inbox(ctx, unit=unit, campaign=campaign, limit=limit))
    for m in page.messages:
        out.print(f"{m.plan_time.astimezone(CST):%Y-%m-%d %H:%M}  {m.kind:<13} {m.title}", markup=False)
    scope = f" in {campaign}" if campaign else ""
    if not page.messages:
        out.print(f"{unit}: nothing in the inbox{scope}", markup=False)
    elif page.total > len(page.messages):
        out.print(
            f"{unit}: the newest {len(page.messages)} of {page.total} messages{scope} (--limit for more)", markup=False
        )
    else:
        out.print(f"{unit}: {page.total} messages{scope}", markup=False)
