"""For auditors: prove a campaign's record (hash chain, history replay, cross-check), explain an
obligation's timeline or a 责令整改 order's story, export the chain and the histories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from activities import codec, history
from activities.audit_explain import Explanation, UnknownObligation
from activities.audit_explain import explain as explain_obligation
from activities.audit_export import NO_CLIENT, ExportSummary, UnknownCampaign, export, reachable_client
from activities.audit_export import Progress as ExportProgress
from activities.audit_order import OrderExplanation, UnknownOrder
from activities.audit_order import explain_order as order_story
from activities.codec import PAYLOADS
from activities.history import ReplayReport, Verdict
from activities.history_files import HistoryFileError, load_histories
from activities.store import views
from activities.store.audit import verify as verify_chain
from activities.store.scores import CLI_WORKFLOW
from services.context import Services
from services.errors import Invalid, NotFound
from workflows import REHEARSAL_WORKFLOWS, WORKFLOWS, sandbox
from workflows.campaign import CampaignWorkflow
from workflows.simulation import SimulationWorkflow

Row = tuple[str, str, str, str]
"""An audit row as the cross-check reads it: event key, kind, workflow id, run id."""


async def replay(histories: list[WorkflowHistory], *, progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Replay histories through the current workflow code; name every one that does not replay."""
    replayer = Replayer(
        workflows=[*WORKFLOWS, *REHEARSAL_WORKFLOWS],
        workflow_runner=sandbox(),
        data_converter=PAYLOADS,
    )
    report = ReplayReport()

    async def each() -> AsyncIterator[WorkflowHistory]:
        for h in histories:
            yield h

    async with replayer.workflow_replay_iterator(each()) as results:
        async for r in results:
            report.replayed += 1
            if r.replay_failure is not None:
                report.failures.append(f"{r.history.workflow_id} (run {r.history.run_id}): {r.replay_failure}")
            if progress:
                progress(report.replayed)
    return report


async def verify_campaign(
    conn: AsyncConnection,
    campaign_id: str,
    *,
    histories: list[WorkflowHistory] | None,
    missing: str | None = None,
    not_given: int = 0,
    engine: Any = None,
    progress: Callable[[str, int], None] | None = None,
) -> Verdict:
    """The chain, then (given the campaign's histories) replay and cross-check. Without the
    campaign's own workflow, or with runs its histories name left out, the histories are a subset:
    only the rows their runs made are held against them, and the rest are counted."""
    chain = await verify_chain(
        conn, campaign_id, engine=engine, progress=(lambda n: progress("chain", n)) if progress else None
    )
    verdict = Verdict(chain=chain, missing_histories=missing)
    if histories is None:
        return verdict
    verdict.histories = len(histories)
    verdict.not_given = not_given
    verdict.subset = not_given > 0 or all(h.workflow_id != campaign_id for h in histories)
    verdict.replay = await replay(histories, progress=(lambda n: progress("replay", n)) if progress else None)
    found = history.effects(histories)
    verdict.effects = len(found.keys)
    rows = await views.audit_keys(conn, campaign_id)
    if verdict.subset:
        rows, verdict.unchecked_rows = history.given_rows(found, rows)
    head = await views.campaign_head(conn, campaign_id)
    verdict.running = head is not None and head.status == "running"
    if verdict.running:
        rows, verdict.in_flight = _seen_rows(found, rows)
    elif found.open:
        rows, verdict.in_flight = _seen_rows(found, rows, among=found.open)
    verdict.cross = history.cross_check(found, rows)
    return verdict


def _seen_rows(
    found: history.Effects, rows: list[Row], *, among: set[tuple[str, str]] | None = None
) -> tuple[list[Row], int]:
    """The rows the histories already show, and how many they do not show yet. An activity
    writes its rows before Temporal records it done, so on a running campaign some rows are
    always ahead of the histories; the other way round (an effect with no row) still fails.
    `among`: only rows of these runs may be ahead (a closed campaign's workflows still open)."""

    def seen(key: str, kind: str, wid: str, rid: str) -> bool:
        if wid == CLI_WORKFLOW or (among is not None and (wid, rid) not in among):
            return True
        return (wid, rid) in found.runs and (not history.traced(kind) or key in found.keys)

    kept = [r for r in rows if seen(*r)]
    return kept, len(rows) - len(kept)


def campaign_roots(campaign: str) -> dict[str, str]:
    """The ids of a campaign's root workflows by type, for histories that do not name themselves."""
    return {CampaignWorkflow.__name__: campaign, SimulationWorkflow.__name__: f"{campaign}/simulation"}


async def verify(
    ctx: Services,
    *,
    campaign: str,
    histories_dir: Path | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Verdict:
    """Recompute the audit hash chain, replay the campaign's Temporal histories (saved in
    `histories_dir`, else fetched from the configured server) through the current code, and
    cross-check every recorded effect against the chain."""
    saved: list[WorkflowHistory] | None = None
    missing = None
    not_given = foreign = 0
    if histories_dir is not None:
        try:
            loaded = await asyncio.to_thread(load_histories, histories_dir, roots=campaign_roots(campaign))
        except (HistoryFileError, OSError) as e:
            raise Invalid(str(e)) from None
        saved, not_given = loaded.histories, len(loaded.not_given)
        # A folder may hold other campaigns' histories too (a rehearsal's --out used twice):
        # they are not this campaign's record, so they are set aside and counted, not replayed.
        saved, foreign = history.own(saved, campaign)
    engine = await ctx.engine()
    if saved is None:
        try:
            client = await ctx.client(start=False)
            saved = await history.collect(client, [campaign], optional=[f"{campaign}/simulation"])
        except Exception as e:
            missing = f"could not fetch the campaign's histories from Temporal ({e}); pass --histories DIR"
    if saved is not None:
        try:  # histories as Temporal stores them: encrypted when the codec is on
            saved = codec.decode_histories(saved, codec.settings_codec(ctx.settings))
        except codec.CodecKeyError as e:
            raise Invalid(f"the histories do not decrypt: {e}") from None
    async with ctx.reading() as conn:
        verdict = await verify_campaign(
            conn, campaign, histories=saved, missing=missing, not_given=not_given, engine=engine, progress=progress
        )
    verdict.foreign = foreign
    return verdict


async def explain(ctx: Services, *, obligation: str) -> Explanation:
    """An obligation's timeline in plan time: each step, the unit or rule behind it, the facts a
    rule saw and the working days it counted."""
    try:
        return await ctx.read(explain_obligation, obligation)
    except UnknownObligation as e:
        raise NotFound(str(e)) from None


def is_order(subject: str) -> bool:
    """Whether `audit explain` was given a 责令整改 order (its id `CAMPAIGN/rectify/…` or its key
    `CAMPAIGN#rectify#…`) rather than an obligation (`CAMPAIGN/PHASE/UNIT/TASK`)."""
    return "/rectify/" in subject or "#rectify#" in subject


async def explain_order(ctx: Services, *, order: str) -> OrderExplanation:
    """A 责令整改 order's story from the chain: what issued it and why, its measure, items and
    deadline, each reminder, escalation, report, review and 批示, and how it ended."""
    if not is_order(order):
        raise Invalid(
            f"{order!r} is not a rectification order: give its id as `duban rectify list CAMPAIGN` shows it "
            "(CAMPAIGN/rectify/…) or its key (CAMPAIGN#rectify#…)"
        )
    try:
        return await ctx.read(order_story, order)
    except UnknownOrder as e:
        raise NotFound(str(e)) from None


async def export_campaign(
    ctx: Services, *, campaign: str, folder: Path, progress: ExportProgress | None = None
) -> ExportSummary:
    """Write the chain as audit.jsonl and audit.xlsx into `folder`, and the workflow histories
    when the configured Temporal server has them (it is never started for this)."""
    await ctx.engine()
    client, why = await reachable_client(ctx.settings)
    try:
        async with ctx.reading() as conn:
            summary = await export(conn, campaign, folder, client, progress=progress)
    except UnknownCampaign as e:
        raise NotFound(str(e)) from None
    if why is not None:
        skipped = f"workflow histories not exported: {why}"
        summary.warnings = [skipped if w == NO_CLIENT else w for w in summary.warnings]
    return summary
