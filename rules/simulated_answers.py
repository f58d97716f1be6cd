"""Rehearsals: simulated units answer 督办通知 and 责令整改 as a county's do.

Pure and seeded, like the rest of the simulation. Proportions (stated in docs/ARCHITECTURE.md,
"Rehearsals"):

- 督办通知: a unit that answers at all answers each notice in writing (a progress report on every
  listed item still open) — within the reply period for most units (`NOTICE_PROMPT`), some
  working days after it for the rest — and finishes a share of the notice's new items soon after
  (`FINISH_PROMPT`, `FINISH_LATE`); the town that never answers never does.
- 责令整改: for each round of an order, a unit reports before its due date (`ORDER_PROMPT`), after it
  (`ORDER_LATE`, cumulative), or not at all; the office reviews a report within a few working days
  and accepts it (`ACCEPT`, by round), or sends it back with reasons and a new due date, or, after
  the rule set's send-backs, closes it rejected (整改不到位); the town that never answers never reports.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date
from typing import NamedTuple

from models.obligation import ObligationSpec
from models.payloads import AgencyMove
from rules.calendar import WorkCalendar

REPLY_DAYS = 5
"""The notices' reply period in working days (`activities.paperwork.REPLY_WORKING_DAYS`)."""
NOTICE_PROMPT = 0.8
"""Share of answering units that answer a notice within its reply period (the rest: late)."""
FINISH_PROMPT, FINISH_LATE = 0.7, 0.4
"""Share of a notice's new items a prompt (late) unit then finishes within two weeks."""
ANSWER_PERCENT = 80
"""The progress an answer reports (never below the simulation's earlier reports: 30–80)."""
ANSWER_TEXT = "已收到督办通知，逐项制定整改措施，明确责任人和完成时限，正在加快推进，特此报告。"

ORDER_PROMPT, ORDER_LATE = 0.75, 0.92
"""Cumulative shares of an order's rounds reported before the due date, after it; the rest never."""
ACCEPT = (0.7, 0.5, 0.4)
"""Share of reports the office accepts in an order's first round, after one send-back, after two
or more: a report sent back is the harder case (what the unit left undone the first time), and
after the rule set's send-backs (2 by default) one that fails closes the order rejected."""
REVIEW_LAG = (1, 4)
"""Working days the office takes to review a report."""
REPORT_TEXT = "关于责令整改事项的整改情况报告：已对照问题清单逐项整改，建立长效机制，附整改前后对比照片及相关文件。"
REJECT_REASON = "整改措施不够具体，部分事项缺少佐证材料，请补充后重新报告。"


class Fate(NamedTuple):
    """What one simulated agency does about one obligation, on its paperwork days."""

    spec: ObligationSpec
    ack: date
    progress: tuple[date, int] | None
    complete: date | None


def answer_notices(
    fates: Sequence[Fate],
    calendar: WorkCalendar,
    *,
    seed: int,
    notice_after: int,
    day: Callable[[ObligationSpec, date], date],
) -> tuple[list[Fate], dict[str, list[tuple[date, AgencyMove]]]]:
    """The fates after each unit has answered its notices, and the answers (by obligation).

    A notice is predicted where the rule set issues one: `notice_after` working days after an
    item's due date when it is not complete before that day; one per unit per day (`rules.rounds`),
    listing the unit's items due before it and still open. `day(spec, d)` is the paperwork day of
    the item's agency on or after d."""
    out = {f.spec.id: f for f in fates}
    answers: dict[str, list[tuple[date, AgencyMove]]] = {}

    def noticed_on(f: Fate) -> date | None:
        on = calendar.shift(calendar.on_or_after(f.spec.due), notice_after)
        return on if f.complete is None or f.complete >= on else None

    units: dict[str, list[str]] = {}
    for f in fates:
        units.setdefault(f.spec.unit_id, []).append(f.spec.id)
    for unit, ids in units.items():
        prompt = random.Random(f"{seed}:notice-answers:{unit}").random() < NOTICE_PROMPT
        for on in sorted({d for i in ids if (d := noticed_on(out[i])) is not None}):
            rng = random.Random(f"{seed}:notice:{unit}:{on.isoformat()}")
            # Paperwork days come every RHYTHM (= REPLY_DAYS) working days: a prompt unit answers on
            # its first after the notice (the notice goes out at 09:00, paperwork at 10:00).
            when = on if prompt else calendar.shift(on, REPLY_DAYS + rng.randint(1, 10))
            for i in ids:
                f = out[i]
                if calendar.on_or_after(f.spec.due) >= on or (f.complete is not None and f.complete < on):
                    continue  # not on this notice
                answered = day(f.spec, when)
                if f.complete is not None and f.complete <= answered:
                    continue  # finished by then: the finished work is its answer
                progress = f.progress if f.progress is not None and f.progress[0] <= answered else None
                answers.setdefault(i, []).append(
                    (answered, AgencyMove(verb="progress", obligation_id=i, percent=ANSWER_PERCENT, text=ANSWER_TEXT))
                )
                complete = f.complete
                new = noticed_on(f) == on
                if new and rng.random() < (FINISH_PROMPT if prompt else FINISH_LATE):
                    sooner = day(f.spec, calendar.shift(answered, rng.randint(0, 10)))
                    complete = sooner if complete is None else min(complete, sooner)
                out[i] = f._replace(progress=progress, complete=complete)
    return [out[f.spec.id] for f in fates], answers


def _in_plan(key: str) -> str:
    """An order's key without its campaign id: the same seed rehearses the same way whatever the
    campaign is called (`CAMPAIGN#rectify#MONTH#UNIT` → `rectify#MONTH#UNIT`)."""
    return key.split("#", 1)[-1]


def order_answer_day(
    calendar: WorkCalendar, *, seed: int, key: str, round: int, began: date, due: date, silent: bool
) -> date | None:
    """When the unit reports on an order's round (None: never): before its due date, or after."""
    if silent:
        return None
    rng = random.Random(f"{seed}:order:{_in_plan(key)}#r{round}")
    fate = rng.random()
    if fate < ORDER_PROMPT:
        span = max(1, calendar.working_days_between(began, due) - 1)
        return calendar.shift(began, rng.randint(1, span))
    if fate < ORDER_LATE:
        return calendar.shift(due, rng.randint(1, 15))
    return None


def order_review(calendar: WorkCalendar, *, seed: int, key: str, round: int, reported: date) -> tuple[date, bool]:
    """When the office reviews a report on an order's round, and whether it accepts it."""
    rng = random.Random(f"{seed}:review:{_in_plan(key)}#r{round}")
    on = calendar.shift(reported, rng.randint(*REVIEW_LAG))
    return on, rng.random() < ACCEPT[min(round, len(ACCEPT) - 1)]
