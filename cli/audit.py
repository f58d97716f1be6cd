"""`duban audit verify|explain|export|decode`: for auditors, the record proved, explained, exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import TaskID

from cli.common import call, err, out, progress
from services import audit, secrets

app = typer.Typer(no_args_is_help=True, help="For auditors: verify and explain the record.")


@app.command("verify")
def verify(
    campaign: str,
    histories_dir: Path | None = typer.Option(
        None,
        "--histories",
        help="A folder (or one file) of histories: a rehearsal's --out folder, `audit export`, or "
        "`temporal workflow show --output json`; a subset (one unit's workflows) is checked as far as it goes.",
    ),
) -> None:
    """Prove the record: recompute the audit hash chain, replay the campaign's Temporal histories
    through the current code, and cross-check every recorded effect against the chain."""
    with progress("verifying {task.fields[step]}", "{task.completed:,} done", bar=False) as bar:
        task = bar.add_task("verify", total=None, step="chain")
        v = call(
            lambda ctx: audit.verify(
                ctx,
                campaign=campaign,
                histories_dir=histories_dir,
                progress=lambda step, n: bar.update(task, step=step, completed=n),
            )
        )
    if v.running:
        _running(campaign, v)
        return
    if v.ok:
        out.print(
            f"{campaign}: holds: chain of {v.chain.rows:,} rows (head {v.chain.head[:16]}…), "
            f"{v.histories} histories replayed, {v.effects:,} recorded effects matched"
            + (
                f"; {v.in_flight:,} rows of workflows still running (open orders) are newer than their "
                "histories and were not cross-checked: verify again once they have finished"
                if v.in_flight
                else ""
            ),
            markup=False,
        )
        if v.subset:
            out.print(f"  {_subset(v)}", markup=False)
        if v.foreign:
            out.print(f"  {v.foreign} histories of other campaigns in the folder were set aside", markup=False)
        return
    err.print(f"{campaign}: does NOT hold", markup=False)
    for p in v.problems()[:20]:
        err.print(f"  {p}", markup=False)
    if v.subset:
        err.print(f"  {_subset(v)}", markup=False)
    raise typer.Exit(1)


def _running(campaign: str, v: Any) -> None:  # services.audit's Verdict, of a running campaign
    """A running campaign: what holds so far, exit 0; what does not, exit 1. Never "does NOT
    hold" for rows its histories cannot show yet."""
    if not v.ok:
        err.print(f"{campaign}: running, and its record does NOT hold so far", markup=False)
        for p in v.problems()[:20]:
            err.print(f"  {p}", markup=False)
        raise typer.Exit(1)
    out.print(
        f"{campaign}: running (not finished): so far the chain of {v.chain.rows:,} rows holds, "
        f"{v.histories} histories replayed, {v.effects:,} recorded effects matched"
        + (f"; {v.in_flight:,} rows newer than the histories not yet cross-checked" if v.in_flight else "")
        + "; verify again once it has finished",
        markup=False,
    )


def _subset(v: Any) -> str:  # services.audit's Verdict
    return (
        f"a subset of the campaign's histories: {v.unchecked_rows:,} audit rows made by workflows not given "
        f"were not cross-checked ({v.not_given} runs the given histories name are missing)"
    )


@app.command("explain")
def explain(
    subject: str = typer.Argument(..., metavar="OBLIGATION|ORDER"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """An obligation's timeline in plan time: each step, the unit or rule behind it, the facts a
    rule saw and the working days it counted. Given a 责令整改 order (its id or key, as `duban
    rectify list` shows them): what issued it and why, its measure, items and deadline, each
    reminder, escalation, report, review and 批示, and how it ended."""
    result: Any = call(
        lambda ctx: (
            audit.explain_order(ctx, order=subject)
            if audit.is_order(subject)
            else audit.explain(ctx, obligation=subject)
        )
    )
    if as_json:
        out.print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), markup=False)
        return
    for line in result.lines():
        out.print(line, markup=False)


@app.command("export")
def export(
    campaign: str,
    out_dir: Path | None = typer.Option(None, "--out", help="Folder to write (default: out/audit-CAMPAIGN)."),
) -> None:
    """Write a campaign's audit chain as audit.jsonl and audit.xlsx, and its workflow histories
    when the configured Temporal server has them."""
    folder = out_dir or Path("out") / f"audit-{campaign}"
    with progress("[bold]exporting[/] {task.description}", "{task.completed}/{task.total}") as bar:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if total < 1000 and stage == "rows":
                return  # a small campaign is done before a bar says anything
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = call(lambda ctx: audit.export_campaign(ctx, campaign=campaign, folder=folder, progress=advance))
    for w in summary.warnings:
        err.print(f"warning: {w}", markup=False)
    if not summary.chain_ok:
        err.print(f"warning: {campaign}: the audit chain does not hold:", markup=False)
        for p in summary.problems:
            err.print(f"  {p}", markup=False)
    out.print(
        f"{campaign}: {summary.rows} audit rows, chain {'holds' if summary.chain_ok else 'BROKEN'} "
        f"(head {summary.head[:16]}…), {summary.histories} workflow histories → {folder}",
        markup=False,
    )


@app.command("decode")
def decode(
    histories: Path = typer.Argument(..., help="A history file or a folder of them, as exported."),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the decrypted histories to."),
    campaign: str | None = typer.Option(
        None, "--campaign", help="The campaign's id, for histories that do not name their workflow."
    ),
) -> None:
    """Decrypt exported histories (payloads encrypted by DUBAN_CODEC_KEYS) for an auditor who
    holds the key; `audit verify --histories` decrypts by itself with the same keys."""
    done = call(lambda ctx: secrets.decode_histories(ctx, source=histories, folder=out_dir, campaign=campaign))
    out.print(f"{done.histories} histories decoded → {done.folder}", markup=False)
