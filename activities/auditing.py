"""For auditors: an obligation's timeline explained, and a campaign's record exported.

`explain` reads an obligation's audit rows and, for every rule firing, rebuilds the reasoning
from what the campaign pinned at launch (its rule set and calendar, stored with the campaign):
the rule and its CEL condition, the facts the condition saw, the effective due date and the
working days counted from it, each named with its kind (调休 make-up workdays, holidays and
weekends skipped). It also re-runs that arithmetic with `rules.engine` and says so where the
record and the rules disagree.

`export` writes a campaign's chain as JSON lines (every column, the hashes included, so the chain
can be recomputed from the file alone) and as a spreadsheet, checks the chain on the rows it
wrote, and saves the campaign's Temporal workflow histories when the server can list them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.campaign import campaign_counts
from activities.config import Settings
from activities.spreadsheet import cells as _cells
from activities.store.audit import GENESIS, payload_of, verify
from activities.store.tables import audit_events, audit_heads, campaigns, obligations
from models.calendar import CalendarData
from models.obligation import Obligation, ObligationSpec, ObligationState
from models.ruleset import ActionKind, Rule, RuleSet, TriggerKind
from models.time import CST
from rules.calendar import WorkCalendar
from rules.engine import Engine, RuleError, describe_trigger

log = structlog.get_logger()

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FIRINGS = ("reminder", "escalation", "notice")
_UPDATES = {
    "obligation.acknowledged": "acknowledged (签收)",
    "obligation.in_progress": "progress reported (进展上报)",
    "obligation.completed": "completed (办结)",
    "obligation.assigned": "set back to assigned",
}


class UnknownObligation(LookupError):
    """No obligation of that id in any campaign, and no audit row naming it."""


class UnknownCampaign(LookupError):
    """No campaign of that id."""


def _day(d: date) -> str:
    return f"{d.isoformat()} ({_WEEKDAYS[d.weekday()]})"


def _short(h: str | None) -> str:
    if not h:
        return "-"
    algo, _, digest = h.rpartition(":")
    return f"{algo + ':' if algo else ''}{digest[:12]}…"


# ---------------------------------------------------------------------------------------------
# explain


@dataclass(frozen=True)
class Step:
    """One audit row of an obligation, with the reasoning behind it."""

    seq: int | None
    """The chain row; None for a firing the rules scheduled that left no row."""
    plan_time: datetime
    kind: str
    actor: str
    text: str
    details: tuple[str, ...] = ()
    rule_id: str | None = None
    facts: dict[str, Any] | None = None
    progress: int = 0
    level: int = 0

    def lines(self) -> list[str]:
        where = f"#{self.seq}" if self.seq is not None else "(no row)"
        head = f"{self.plan_time.astimezone(CST):%Y-%m-%d %H:%M} {where} {self.text}"
        return [head, *(f"    {d}" for d in self.details)]


@dataclass(frozen=True)
class Explanation:
    obligation_id: str
    campaign_id: str
    header: tuple[str, ...]
    steps: tuple[Step, ...]
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = list(self.header)
        for s in self.steps:
            out += s.lines()
        out += [f"warning: {w}" for w in self.warnings]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "obligation": self.obligation_id,
            "campaign": self.campaign_id,
            "header": list(self.header),
            "steps": [
                {
                    "seq": s.seq,
                    "plan_time": s.plan_time.astimezone(CST).isoformat(),
                    "kind": s.kind,
                    "actor": s.actor,
                    "text": s.text,
                    "details": list(s.details),
                    "rule": s.rule_id,
                    "facts": s.facts,
                }
                for s in self.steps
            ],
            "warnings": list(self.warnings),
        }


@dataclass
class _Context:
    """What the campaign pinned at launch, rebuilt from its row."""

    campaign: Any
    ruleset: RuleSet | None
    calendar: WorkCalendar | None
    engine: Engine | None
    spec: ObligationSpec | None
    warnings: list[str] = field(default_factory=list)

    def rule(self, row: Any) -> Rule | None:
        if self.ruleset is None or row["ruleset_hash"] != self.campaign.ruleset_hash:
            return None
        return next((r for r in self.ruleset.rules if r.id == row["rule_id"]), None)


def _pinned(campaign: Any, ob: Any) -> _Context:
    warnings: list[str] = []
    ruleset: RuleSet | None = None
    calendar: WorkCalendar | None = None
    engine: Engine | None = None
    try:
        ruleset = RuleSet.model_validate(campaign.ruleset)
        if ruleset.digest() != campaign.ruleset_hash:
            warnings.append(f"the stored rule set hashes to {ruleset.digest()}, not its pinned {campaign.ruleset_hash}")
    except ValueError as e:
        warnings.append(f"the campaign's stored rule set does not load: {e}")
    try:
        data = CalendarData.model_validate(campaign.calendar)
        if data.digest() != campaign.calendar_hash:
            warnings.append(f"the stored calendar hashes to {data.digest()}, not its pinned {campaign.calendar_hash}")
        calendar = WorkCalendar(data)
    except ValueError as e:
        warnings.append(f"the campaign's stored calendar does not load: {e}")
    if ruleset is not None and calendar is not None:
        try:
            engine = Engine(ruleset, calendar)
        except RuleError as e:
            warnings.append(f"the stored rule set does not compile: {e}")
    spec = None
    if ob is not None:
        fields = set(ObligationSpec.model_fields)
        spec = ObligationSpec.model_validate({k: v for k, v in ob.items() if k in fields})
    return _Context(campaign, ruleset, calendar, engine, spec, warnings)


async def explain(conn: AsyncConnection, obligation_id: str) -> Explanation:
    """An obligation's whole record in plan time, each step with the unit or rule behind it.

    Raises:
        UnknownObligation: no obligation of that id and no audit row naming it.
    """
    ob = (await conn.execute(select(obligations).where(obligations.c.id == obligation_id))).mappings().first()
    cid = ob["campaign_id"] if ob is not None else None
    if cid is None:
        cid = (
            await conn.execute(
                select(audit_events.c.campaign_id).where(audit_events.c.obligation_id == obligation_id).limit(1)
            )
        ).scalar()
    if cid is None:
        raise UnknownObligation(f"no record of obligation {obligation_id!r}")
    campaign = (await conn.execute(select(campaigns).where(campaigns.c.id == cid))).first()
    if campaign is None:
        raise UnknownObligation(f"obligation {obligation_id!r} names campaign {cid!r}, which has no record")
    rows = (
        (
            await conn.execute(
                select(audit_events)
                .where(
                    audit_events.c.campaign_id == cid,
                    (audit_events.c.obligation_id == obligation_id) | (audit_events.c.kind == "campaign.launched"),
                )
                .order_by(audit_events.c.seq)
            )
        )
        .mappings()
        .all()
    )
    ctx = _pinned(campaign, ob)
    steps = [_step(ctx, r, ob) for r in rows]
    if ctx.engine is not None and ctx.spec is not None:
        until = (
            campaign.closed_plan_time
            or (
                await conn.execute(select(func.max(audit_events.c.plan_time)).where(audit_events.c.campaign_id == cid))
            ).scalar()
        )
        if until is not None:
            steps += _not_acted(ctx, steps, until)
    steps.sort(key=lambda s: (s.plan_time, s.seq if s.seq is not None else 0))
    return Explanation(
        obligation_id=obligation_id,
        campaign_id=cid,
        header=tuple(_header(ctx, obligation_id, ob)),
        steps=tuple(steps),
        warnings=tuple(ctx.warnings),
    )


def _header(ctx: _Context, obligation_id: str, ob: Any) -> list[str]:
    c = ctx.campaign
    rs = f"{ctx.ruleset.id} v{ctx.ruleset.version}" if ctx.ruleset else c.ruleset_id
    out = [f"{obligation_id}"]
    if ob is not None:
        out.append(f"  {ob['title']}")
        out.append(
            f"  {ob['unit_name']} ({ob['unit_id']}, {ob['role']}), lead {ob['lead']}; "
            f"assigned {_day(ob['assigned'])}, due {_day(ob['due'])}"
        )
        out.append(
            f"  now: {ob['state']}, {ob['progress']}%, reminded {ob['reminders']}×, "
            f"escalation level {ob['escalation_level']}"
        )
    else:
        out.append("  (not in the obligations table: only its audit rows are known)")
    out.append(
        f"  campaign {c.id} ({c.status}): plan {c.plan_id} {_short(c.plan_hash)}, rule set {rs} "
        f"{_short(c.ruleset_hash)}, calendar {_short(c.calendar_hash)}"
    )
    return out


def _step(ctx: _Context, r: Any, ob: Any) -> Step:
    payload = payload_of(r)
    kind, actor = r["kind"], r["actor"]
    base = {"seq": r["seq"], "plan_time": r["plan_time"], "kind": kind, "actor": actor}
    if kind == "campaign.launched":
        text = f"launched by {actor}: campaign {r['campaign_id']}, {payload.get('obligations', '?')} obligations"
        details = []
        if ob is not None:
            details.append(f"assigned to {ob['unit_id']} ({ob['role']}) from {_day(ob['assigned'])}")
        details.append(
            f"pinned plan {_short(r['plan_hash'])}, rule set {payload.get('ruleset', '?')} "
            f"{_short(r['ruleset_hash'])}, calendar {_short(payload.get('calendar_hash'))}"
        )
        return Step(**base, text=text, details=tuple(details))
    if kind in _UPDATES:
        by = actor if actor == r["unit_id"] else f"{actor} (for {r['unit_id']})"
        if payload.get("account"):  # who acted for the unit, as the door proved it
            by += f" [{payload['account']}, {payload.get('role', '?')}]"
        text = f"{_UPDATES[kind]} by {by}: {payload.get('state')} {payload.get('progress', 0)}%"
        if payload.get("text"):
            text += f"「{payload['text']}」"
        return Step(**base, text=text, progress=int(payload.get("progress") or 0))
    if kind in _FIRINGS and r["rule_id"]:
        return _firing(ctx, r, payload, base)
    return Step(**base, text=f"{kind} by {actor} {json.dumps(payload, ensure_ascii=False)}", rule_id=r["rule_id"])


def _firing(ctx: _Context, r: Any, payload: dict[str, Any], base: dict[str, Any]) -> Step:
    rule = ctx.rule(r)
    rid = r["rule_id"]
    if rule is not None:
        why = f"by rule {rid}「{rule.description}」 when {rule.when}"
    elif r["ruleset_hash"] != ctx.campaign.ruleset_hash:
        why = f"by rule {rid} of rule set {_short(r['ruleset_hash'])} (not the launch rule set; its text is not stored)"
    else:
        why = f"by rule {rid} (not in the campaign's rule set)"
    kind = r["kind"]
    if kind == "notice":
        copies = payload.get("copy_to")
        # A list of lead units since notices became documents; one unit id before.
        copied = (", ".join(copies) or "none") if isinstance(copies, list) else copies
        colour = f", {payload['severity']}" if payload.get("severity") else ""
        text = (
            f"notice {payload.get('code')} to {payload.get('to')}, copy to {copied} "
            f"(level {payload.get('level')}{colour}) {why}"
        )
        return Step(**base, text=text, rule_id=rid)
    level = f" (level {payload['level']})" if payload.get("level") else ""
    text = f"{kind} → {payload.get('recipient')}{level} {why}"
    facts: dict[str, Any] = payload.get("facts") or {}
    details = []
    if facts:
        details.append("saw " + ", ".join(f"{k}={facts[k]}" for k in _seen(rule, facts)) + _held(ctx, rule, facts))
    details += _deadline(ctx, r, rule, payload, facts)
    return Step(
        **base,
        text=text,
        details=tuple(details),
        rule_id=rid,
        facts=facts or None,
        level=int(payload.get("level") or 0),
    )


def _seen(rule: Rule | None, facts: dict[str, Any]) -> list[str]:
    """The facts the condition names, in the order it names them, then the deadline's."""
    names: list[str] = []
    if rule is not None:
        found = [(m.start(), m.group()) for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", rule.when)]
        names = list(dict.fromkeys(n for _, n in sorted(found) if n in facts))
    overdue = rule is not None and rule.trigger.kind is TriggerKind.after_due
    for k in ("days_overdue",) if overdue else ("days_left",):
        if k not in names and k in facts:
            names.append(k)
    return names


def _held(ctx: _Context, rule: Rule | None, facts: dict[str, Any]) -> str:
    if ctx.engine is None or rule is None:
        return ""
    try:
        held = ctx.engine.holds(rule, facts)
    except (TypeError, RuntimeError, ValueError, ArithmeticError, LookupError) as e:
        return f" (the condition does not evaluate on them now: {e})"
    return " → condition true" if held else " → ⚠ the condition is FALSE on these facts"


def _deadline(ctx: _Context, r: Any, rule: Rule | None, payload: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    cal = ctx.calendar
    if cal is None or "due" not in payload:
        return []
    due = date.fromisoformat(payload["due"])
    on = r["plan_time"].astimezone(CST).date()
    out = []
    planned = ctx.spec.due if ctx.spec is not None else due
    if planned == due:
        out.append(f"due {_day(due)}, a {cal.kind(due)}: not moved")
    else:
        rest = ", ".join(f"{d} {cal.kind(d)}" for d in _dates(planned, due - timedelta(days=1)))
        out.append(
            f"due {_day(due)}: planned {_day(planned)} is a rest day, moved to the next working day (skipped {rest})"
        )
    if ctx.engine is not None and ctx.spec is not None:
        pinned = ctx.engine.due_date(Obligation(spec=ctx.spec))
        if pinned != due:
            out.append(f"⚠ the pinned calendar puts the due date on {_day(pinned)}")

    counted: list[str] = []
    skipped: list[str] = []
    if on > due:
        days = _dates(due + timedelta(days=1), on)
        head = f"fired {_day(on)}"
    else:
        # A rule before the due date counts back from it: the due date is day 0, the firing
        # date the last one counted (rules.calendar.WorkCalendar.shift).
        days = list(reversed(_dates(on, due - timedelta(days=1))))
        head = f"fired {_day(on)}, counting back from the due date"
    n = 0
    for d in days:
        k = cal.kind(d)
        if cal.is_working_day(d):
            n += 1
            counted.append(f"{d} ({n}{', 调休 make-up workday' if k == 'make-up workday' else ''})")
        else:
            skipped.append(f"{d} {k}")
    if rule is not None:
        head += f": {describe_trigger(rule.trigger)}"
    line = head
    if counted:
        line += "; counted " + ", ".join(counted)
    if skipped:
        line += "; skipped " + ", ".join(skipped)
    out.append(line)
    if (
        ctx.engine is not None
        and ctx.spec is not None
        and rule is not None
        and rule.trigger.kind is not TriggerKind.event
    ):
        expected = ctx.engine.fire_dates(rule, Obligation(spec=ctx.spec), until=on)
        if on not in expected:
            put = ", ".join(_day(d) for d in expected) or "no date up to then"
            out.append(f"⚠ the pinned rule set and calendar put this firing on {put}")
    if "days_left" in facts:
        left = cal.working_days_between(on, due)
        if left != facts["days_left"]:
            out.append(f"⚠ the pinned calendar gives days_left={left}, the condition saw {facts['days_left']}")
    return out


def _not_acted(ctx: _Context, steps: list[Step], until: datetime) -> list[Step]:
    """Firings the pinned rules schedule for the obligation up to `until` (the campaign's close,
    or its latest row while it runs) that left no row, each with the facts it would have seen,
    rebuilt from the rows before it."""
    assert ctx.engine is not None and ctx.spec is not None
    acted = {(s.rule_id, s.plan_time.astimezone(CST).date()) for s in steps if s.kind in ("reminder", "escalation")}
    out = []
    for f in ctx.engine.firings(Obligation(spec=ctx.spec), until=until.astimezone(CST).date()):
        if (f.rule.id, f.on) in acted or f.at > until:
            continue
        before = [s for s in steps if s.seq is not None and s.plan_time < f.at]
        state, progress, last = ObligationState.assigned, 0, None
        for s in before:
            if s.kind.startswith("obligation."):
                state, progress, last = ObligationState(s.kind.split(".", 1)[1]), s.progress, s
        then = Obligation(
            spec=ctx.spec,
            state=state,
            progress=progress,
            reminders=sum(s.kind == "reminder" for s in before),
            escalation_level=max((s.level for s in before if s.kind == "escalation"), default=0),
        )
        facts = ctx.engine.facts(then, f.on)
        seen = ", ".join(f"{k}={facts[k]}" for k in _seen(f.rule, facts))
        since = f" (#{last.seq}, {last.plan_time.astimezone(CST):%Y-%m-%d %H:%M})" if last is not None else ""
        try:
            held = ctx.engine.holds(f.rule, facts)
        except (TypeError, RuntimeError, ValueError, ArithmeticError, LookupError) as e:
            held, why = None, f"its condition does not evaluate on the facts then: {e}"
        if held is False:
            why = f"its condition {f.rule.when} was false: the record shows {seen}{since}"
        elif held:
            why = (
                f"⚠ its condition {f.rule.when} held on the facts the record gives ({seen}), yet no action is recorded"
            )
        noun = "reminder" if f.rule.action.kind is ActionKind.remind else "escalation"
        text = f"no {noun}: rule {f.rule.id}「{f.rule.description}」 was scheduled and did not act"
        out.append(
            Step(
                seq=None,
                plan_time=f.at,
                kind="not acted",
                actor=f"rule:{f.rule.id}",
                text=text,
                details=(why,),
                rule_id=f.rule.id,
                facts=facts,
            )
        )
    return out


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# ---------------------------------------------------------------------------------------------
# export

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
