"""Simulated agencies for rehearsals: who signs, reports and completes what, and when.

Deterministic from the seed (its own `random.Random`, never the global one), so the same seed
rehearses the same campaign and gives the same counts. Agencies do their paperwork on a
five-working-day rhythm, as offices batch it, which also keeps a rehearsal's round trips few.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date

from models.obligation import ObligationSpec, workflow_id_of
from models.payloads import AgencyDay, AgencyMove
from models.plan import Plan
from models.time import at
from rules.calendar import WorkCalendar

RHYTHM = 5  # working days between an agency's paperwork days
ON_TIME, LATE = 0.72, 0.90  # cumulative shares: on time, late, and the rest never complete


def never_answering(plan: Plan, seed: int, count: int) -> list[str]:
    """The towns that never answer at all in this rehearsal."""
    towns = sorted(u.id for u in plan.units_in_scope())
    return sorted(random.Random(f"{seed}:silent").sample(towns, min(count, len(towns))))


def schedule(
    plan: Plan,
    obligations: list[ObligationSpec],
    calendar: WorkCalendar,
    *,
    seed: int,
    silent: list[str],
    until: date,
) -> dict[str, list[AgencyDay]]:
    """Per unit workflow id, the days its simulated agency acts on, in order."""
    by_day: dict[str, dict[date, list[AgencyMove]]] = defaultdict(lambda: defaultdict(list))

    def paperwork_day(anchor: date, d: date) -> date:
        """The agency's next paperwork day on or after d."""
        n = max(0, calendar.working_days_between(anchor, d))
        return calendar.shift(anchor, -(-n // RHYTHM) * RHYTHM)

    for spec in obligations:
        if spec.unit_id in silent:
            continue
        # Seeded by the obligation's place in the plan, not its campaign id: the same seed
        # rehearses the same way whatever the campaign is called.
        rng = random.Random(f"{seed}:{spec.id.split('/', 1)[1]}")
        wf = workflow_id_of(spec.id)
        anchor = calendar.on_or_after(spec.assigned)
        due = calendar.on_or_after(spec.due)
        ack = paperwork_day(anchor, calendar.shift(anchor, rng.randint(0, 6)))
        moves = by_day[wf]
        moves[ack].append(AgencyMove(verb="acknowledge", obligation_id=spec.id))
        fate = rng.random()
        if fate < ON_TIME:
            done: date | None = calendar.shift(due, -rng.randint(RHYTHM, 25))
        elif fate < LATE:
            done = calendar.shift(due, rng.randint(2, 30))
        else:
            done = None
        if done is not None and done <= ack:
            done = calendar.shift(ack, RHYTHM)
        last = done or calendar.shift(due, 10)
        mid = calendar.shift(ack, max(1, calendar.working_days_between(ack, last) // 2))
        if ack < mid < last:
            moves[paperwork_day(anchor, mid)].append(
                AgencyMove(verb="progress", obligation_id=spec.id, percent=rng.choice((30, 50, 60, 80)))
            )
        if done is not None:
            day = paperwork_day(anchor, done)
            if day <= until:
                moves[day].append(AgencyMove(verb="complete", obligation_id=spec.id))

    return {
        wf: [AgencyDay(plan_time=at(d, "10:00"), moves=days[d]) for d in sorted(days) if d <= until]
        for wf, days in sorted(by_day.items())
    }
