"""The plan's own assessment schedule: each round of 日常督导 (monthly, a sample of towns), 拉练检查
(the sheet's set dates, or once a period), 年度总评 (each year), and the like in other plans, from
the score sheets' `every`/`day`/`until` or `dates`. 达标验收 is held at the milestones (the phase).

Pure: the same book, plan and calendar always give the same rounds, and the same campaign and
round always draw the same sample.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

from models.assessment import ScoreBook, ScoreSheet
from models.assessment_schedule import Every, Occasion
from models.obligation import rehearsal_stem
from models.plan import AssessmentKind, Plan
from rules.calendar import WorkCalendar

MONTHS = {Every.month: 1, Every.quarter: 3, Every.half_year: 6, Every.year: 12}


def working_span(plan: Plan) -> tuple[date, date]:
    """From the start of the first phase where the work falls due (the plan's start, if none)
    to the plan's last phase's end: before that there is nothing to assess."""
    first = min((p.start for p in plan.phases if p.tasks_due_at_milestones), default=plan.start)
    return first, max(p.end for p in plan.phases)


def _round_name(every: Every, start: date) -> str:
    if every is Every.month:
        return f"{start:%Y-%m}"
    if every is Every.quarter:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if every is Every.half_year:
        return f"{start.year}-H{(start.month - 1) // 6 + 1}"
    return f"{start.year}"


def _periods(every: Every, first: date, last: date) -> list[tuple[date, date]]:
    """The calendar periods (months, quarters, half years, years) that overlap [first, last]."""
    n = MONTHS[every]
    month0 = (first.month - 1) // n * n + 1
    start = date(first.year, month0, 1)
    out = []
    while start <= last:
        m = start.month - 1 + n
        nxt = date(start.year + m // 12, m % 12 + 1, 1)
        out.append((start, nxt - timedelta(days=1)))
        start = nxt
    return out


def sheet_rounds(sheet: ScoreSheet, plan: Plan, calendar: WorkCalendar) -> list[Occasion]:
    """One sheet's rounds, in date order; none for an acceptance or an unscheduled sheet."""
    first, last = working_span(plan)
    if sheet.until is not None:
        last = min(last, sheet.until)
    out: list[Occasion] = []
    if sheet.dates:
        since = first
        for d in sorted(sheet.dates):
            out.append(
                Occasion(kind=sheet.kind, sheet_id=sheet.id, name=sheet.name, round=d.isoformat(), on=d, since=since)
            )
            since = d + timedelta(days=1)
        return out
    if sheet.every is None or sheet.kind == AssessmentKind.acceptance:
        return out
    for ps, pe in _periods(sheet.every, first, last):
        # A period the plan ends in (2022's review of a plan ending in March) is held by its end.
        end = min(pe, last)
        closing = calendar.shift(end + timedelta(days=1), -1)  # the last working day by `end`
        on = calendar.on_or_after(date(pe.year, pe.month, sheet.day)) if sheet.day is not None else closing
        if on > end:
            on = closing
        since = max(ps, first)
        if since <= on:
            out.append(
                Occasion(
                    kind=sheet.kind,
                    sheet_id=sheet.id,
                    name=sheet.name,
                    round=_round_name(sheet.every, ps),
                    on=on,
                    since=since,
                )
            )
    return out


def scheduled_rounds(book: ScoreBook, plan: Plan, calendar: WorkCalendar) -> list[Occasion]:
    """Every scheduled round of every sheet, in the order they are held."""
    rounds = [o for s in book.sheets for o in sheet_rounds(s, plan, calendar)]
    return sorted(rounds, key=lambda o: (o.on, o.sheet_id))


def sample_key(campaign_id: str) -> str:
    """What a round's sample is drawn from: the campaign, or for a rehearsal its plan and seed
    only, so that the same seed samples the same towns (and gives the same counts) on every run."""
    return rehearsal_stem(campaign_id) or campaign_id


def sampled(sheet: ScoreSheet, towns: Sequence[str], campaign_id: str, round_: str) -> tuple[str, ...]:
    """The towns a round looks at: all, or `sample` of them drawn for this campaign and round
    (日常督导 visits a few towns a month, not all), in the order given."""
    if sheet.sample is None or sheet.sample >= len(towns):
        return tuple(towns)
    drawn = set(random.Random(f"{sample_key(campaign_id)}:{sheet.id}:{round_}").sample(sorted(towns), sheet.sample))
    return tuple(t for t in towns if t in drawn)
