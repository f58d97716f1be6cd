"""Scoring: a sheet's weighted score per unit, and the comprehensive evaluation (综合评价).

Pure: no I/O, no clock. Scores are rounded half up to two decimals (四舍五入, as published score
sheets show them), and pass/fail is decided on the rounded score, so what a town reads is what
was judged.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from models.assessment import (
    CriterionScore,
    Evaluation,
    EvaluationInput,
    Laggard,
    LongTermItem,
    ScoreRecord,
    ScoreSheet,
    SheetScore,
    TownEvaluation,
)
from models.plan import AssessmentKind, Unit
from rules.calendar import WorkCalendar

_LATEST_COUNTS = (AssessmentKind.acceptance, AssessmentKind.annual_review)
"""Kinds where a re-check replaces the earlier score; the others average every visit."""

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


class EntryError(ValueError):
    """Scores that do not fit their sheet; `problems` names each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def half_up(x: float, places: int = 2) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def fmt(x: float) -> str:
    """A number as a person writes it: 100, 87.5."""
    return f"{x:g}"


def number(text: str) -> float | None:
    """A decimal number typed as text (full-width digits too), or None."""
    t = unicodedata.normalize("NFKC", text).strip()
    return float(t) if _NUMBER.match(t) else None


def points_problem(sheet: ScoreSheet, criterion_id: str, points: float) -> str | None:
    """Why these points cannot stand for the criterion, or None."""
    c = sheet.criterion(criterion_id)
    if not math.isfinite(points):
        return f"分数 {points} 不是数字"
    if points < 0:
        return f"分数 {fmt(points)} 小于 0"
    if points > c.max_points:
        return f"分数 {fmt(points)} 超过满分 {fmt(c.max_points)}"
    return None


def date_problem(sheet: ScoreSheet, on: date) -> str | None:
    if sheet.kind == AssessmentKind.field_inspection and sheet.dates and on not in sheet.dates:
        dates = "、".join(d.isoformat() for d in sheet.dates)
        return f"评分日期 {on.isoformat()} 不是拉练检查日（{dates}）"
    return None


def check(sheet: ScoreSheet, record: ScoreRecord) -> list[str]:
    """Everything wrong with a record against its sheet (empty when it fits)."""
    problems: list[str] = []
    if record.sheet_id != sheet.id:
        problems.append(f"评分表 {record.sheet_id} 不是 {sheet.id}")
    ids = [c.id for c in sheet.criteria]
    problems += [f"{k}: 评分表 {sheet.id} 没有这个评分项" for k in record.points if k not in ids]
    for k in ids:
        if k not in record.points:
            problems.append(f"{k}: 缺少分数")
        elif p := points_problem(sheet, k, record.points[k]):
            problems.append(f"{k}: {p}")
    if p := date_problem(sheet, record.assessed_on):
        problems.append(p)
    return problems


def score(sheet: ScoreSheet, record: ScoreRecord) -> SheetScore:
    """The record's weighted score on its sheet (0–100) and whether it passes.

    Raises:
        EntryError: the record does not fit the sheet.
    """
    if problems := check(sheet, record):
        raise EntryError(problems)
    parts = []
    for c in sheet.criteria:
        p = record.points[c.id]
        parts.append(
            CriterionScore(
                criterion_id=c.id,
                points=p,
                max_points=c.max_points,
                weight=c.weight,
                weighted=p / c.max_points * c.weight,
                failed=p < c.max_points * sheet.criterion_pass_percent / 100,
            )
        )
    total = half_up(math.fsum(x.weighted for x in parts))
    return SheetScore(
        sheet_id=sheet.id,
        unit_id=record.unit_id,
        assessed_on=record.assessed_on,
        total=total,
        passed=total >= sheet.pass_mark,
        criteria=tuple(parts),
    )


def find_unit(units: Sequence[Unit], key: str) -> Unit | None:
    """A unit in scope by id or by its full name."""
    key = key.strip()
    return next((u for u in units if key in (u.id, u.name)), None)


def enter(
    sheet: ScoreSheet,
    *,
    units: Sequence[Unit],
    unit: str,
    pairs: Sequence[str],
    assessor: str,
    on: date,
    findings: Sequence[str] = (),
) -> ScoreRecord:
    """A record from `CRITERION=POINTS` pairs as typed on the command line.

    Raises:
        EntryError: naming every problem at once (unknown unit or criterion, a value twice, not
            a number, out of range, a criterion left out, not an inspection date).
    """
    problems: list[str] = []
    u = find_unit(units, unit)
    if u is None:
        problems.append(f"{unit}: 不是评分范围内的单位（镇、场、景区）")
    ids = {c.id for c in sheet.criteria}
    points: dict[str, float] = {}
    given: set[str] = set()
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        key = key.strip()
        if not eq:
            problems.append(f"{pair}: 应写作 评分项=分数（如 {sheet.criteria[0].id}=85）")
        elif key not in ids:
            problems.append(f"{key}: 评分表 {sheet.id} 没有这个评分项（有 {', '.join(c.id for c in sheet.criteria)}）")
        elif key in given:
            problems.append(f"{key}: 分数填了两次")
        elif (p := number(raw)) is None:
            problems.append(f"{key}: “{raw}” 不是数字")
        elif why := points_problem(sheet, key, p):
            problems.append(f"{key}: {why}")
        else:
            points[key] = p
        given.add(key)
    problems += [f"{c.id}: 缺少分数" for c in sheet.criteria if c.id not in given]
    if not assessor.strip():
        problems.append("缺少评分人")
    elif len(assessor.strip()) > 64:
        problems.append("评分人超过 64 个字")
    if why := date_problem(sheet, on):
        problems.append(why)
    if problems or u is None:
        raise EntryError(problems)
    return ScoreRecord(
        sheet_id=sheet.id,
        unit_id=u.id,
        assessor=assessor.strip(),
        assessed_on=on,
        points=points,
        findings=tuple(f.strip() for f in findings if f.strip()),
    )


# -- when acceptances are held and re-checked ----------------------------------------------------------


def acceptance_day(calendar: WorkCalendar, due: date) -> date:
    """达标验收 of a milestone: the first working day after it falls due."""
    return calendar.shift(due, 1)


def recheck_day(calendar: WorkCalendar, held_on: date, sheet: ScoreSheet) -> date:
    """复查 of the towns that failed an acceptance held on `held_on`: the sheet's working days later."""
    return calendar.shift(held_on, sheet.recheck_days)


# -- the comprehensive evaluation ---------------------------------------------------------------------


def evaluate(inp: EvaluationInput) -> Evaluation:
    """综合评价 of every unit in scope: timeliness, rectification record and assessment scores,
    weighted; the ranking; who meets 基础型 / 示范型; laggards; 楚天杯 recommendations; and the
    criteria most often failed, for 长效管理.

    Raises:
        ValueError: a score for a sheet or unit not in the input, or that does not fit its sheet
            (scores are validated when entered; this guards the caller's wiring).
    """
    w = inp.weights
    sheets = {s.id: s for s in inp.sheets}
    facts = {u.unit_id: u for u in inp.units}
    if len(facts) != len(inp.units):
        raise ValueError("a unit appears twice in the evaluation's units")

    # (unit, sheet) → [(assessed_on, input order, score)]
    scored: dict[tuple[str, str], list[tuple[date, int, SheetScore]]] = defaultdict(list)
    for i, r in enumerate(inp.scores):
        if r.sheet_id not in sheets:
            raise ValueError(f"score {i}: no sheet {r.sheet_id!r} in the evaluation")
        if r.unit_id not in facts:
            raise ValueError(f"score {i}: unit {r.unit_id!r} is not in the evaluation")
        try:
            result = score(sheets[r.sheet_id], r)
        except EntryError as e:
            raise ValueError(f"score {i} ({r.unit_id} on {r.sheet_id}): {e}") from None
        scored[(r.unit_id, r.sheet_id)].append((r.assessed_on, i, result))

    held = sorted(
        {s.milestone for s in inp.sheets if s.milestone and any(k[1] == s.id for k in scored)},
        key=lambda m: _milestone_order(inp.sheets, m),
    )
    towns = []
    for uid, f in facts.items():
        per_sheet: dict[str, float] = {}
        for sh in inp.sheets:
            got = scored.get((uid, sh.id))
            if not got:
                continue
            if sh.kind in _LATEST_COUNTS:
                per_sheet[sh.id] = max(got, key=lambda x: (x[0], x[1]))[2].total
            else:
                per_sheet[sh.id] = half_up(math.fsum(x[2].total for x in got) / len(got))
        meets, failed = [], []
        for m in held:
            latest = [x for sh in inp.sheets if sh.milestone == m for x in scored.get((uid, sh.id), [])]
            if latest and max(latest, key=lambda x: (x[0], x[1]))[2].passed:
                meets.append(m)
            else:
                failed.append(m)
        timeliness = half_up(100 * f.on_time / f.obligations_due) if f.obligations_due else 100.0
        rectification = max(0.0, 100 - w.order_penalty * f.orders_received - w.open_order_penalty * f.open_orders)
        assessment = half_up(math.fsum(per_sheet.values()) / len(per_sheet)) if per_sheet else 0.0
        total = half_up(
            math.fsum((w.timeliness * timeliness, w.rectification * rectification, w.assessment * assessment)) / 100
        )
        towns.append(
            TownEvaluation(
                rank=0,
                unit_id=uid,
                total=total,
                timeliness=timeliness,
                rectification=half_up(rectification),
                assessment=assessment,
                sheets=per_sheet,
                meets=tuple(meets),
                failed=tuple(failed),
                open_orders=f.open_orders,
            )
        )
    towns.sort(key=lambda t: (-t.total, t.unit_id))
    towns = [t.model_copy(update={"rank": i}) for i, t in enumerate(towns, start=1)]

    bottom = {t.unit_id for t in towns[len(towns) - min(w.bottom, len(towns)) :]}
    laggards = []
    for t in towns:
        reasons = (["bottom"] if t.unit_id in bottom else []) + [f"failed:{m}" for m in t.failed]
        if reasons:
            laggards.append(Laggard(unit_id=t.unit_id, reasons=tuple(reasons)))
    lagging = {x.unit_id for x in laggards}
    commended = [
        t.unit_id
        for t in towns
        if w.commendation_milestone in t.meets and t.open_orders == 0 and t.unit_id not in lagging
    ][: w.commendations]

    return Evaluation(
        towns=tuple(towns),
        standards={m: tuple(t.unit_id for t in towns if m in t.meets) for m in held},
        laggards=tuple(laggards),
        commended=tuple(commended),
        long_term=_long_term(inp, sheets, scored),
    )


def _milestone_order(sheets: Sequence[ScoreSheet], milestone: str) -> int:
    return next(i for i, s in enumerate(sheets) if s.milestone == milestone)


def _long_term(
    inp: EvaluationInput,
    sheets: dict[str, ScoreSheet],
    scored: dict[tuple[str, str], list[tuple[date, int, SheetScore]]],
) -> tuple[LongTermItem, ...]:
    """The criteria failed most often over every record (each visit counts), for 长效管理."""
    failed: dict[tuple[str, str], int] = defaultdict(int)
    times: dict[tuple[str, str], int] = defaultdict(int)
    units: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (uid, sid), got in scored.items():
        for _, _, s in got:
            for c in s.criteria:
                times[(sid, c.criterion_id)] += 1
                if c.failed:
                    failed[(sid, c.criterion_id)] += 1
                    units[(sid, c.criterion_id)].add(uid)
    order = {(s.id, c.id): (i, j) for i, s in enumerate(inp.sheets) for j, c in enumerate(s.criteria)}
    keys = sorted(failed, key=lambda k: (-failed[k], -failed[k] / times[k], order[k]))
    return tuple(
        LongTermItem(
            sheet_id=sid,
            criterion_id=cid,
            name=sheets[sid].criterion(cid).name,
            failed=failed[(sid, cid)],
            scored=times[(sid, cid)],
            units=tuple(sorted(units[(sid, cid)])),
        )
        for sid, cid in keys[: inp.weights.long_term_items]
    )
