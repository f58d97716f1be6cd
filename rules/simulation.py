"""Simulated agencies for rehearsals: who signs, reports and completes what, and when.

Deterministic from the seed (its own `random.Random`, never the global one), so the same seed
rehearses the same campaign and gives the same counts. Agencies do their paperwork on a
five-working-day rhythm, as offices batch it, which also keeps a rehearsal's round trips few.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import NamedTuple

from models.assessment import ScoreBook, ScoreRecord, ScoreSheet
from models.assessment_schedule import Occasion
from models.obligation import ObligationSpec, workflow_id_of
from models.payloads import Acknowledge, AgencyDay, AgencyMove, Complete, ObligationAction, ReportProgress
from models.plan import AssessmentKind, PhaseKind, Plan
from models.ruleset import ActionKind, RuleSet, TriggerKind
from models.time import at
from rules.calendar import WorkCalendar
from rules.scoring import acceptance_day, recheck_day, score
from rules.simulated_answers import Fate, answer_notices

RHYTHM = 5  # working days between an agency's paperwork days

# How far behind a unit is, as a county's units are: diligence is mostly the unit's own trait.
# Drawn per unit and seed, each unit is diligent, slow or a laggard; per batch of its work due on
# one day it is then on track or behind, by its trait; only then each obligation's own luck.
# Independent fates per obligation (the model before) left almost no unit with nothing late at a
# milestone (0.72 ** 20 of them), which no county office sees.
TRAITS = (("diligent", 0.65, 0.03), ("slow", 0.25, 0.30), ("laggard", 0.10, 0.80))
"""(trait, share of units, chance the unit is behind on a due day's batch of its work)."""
_BEHIND_CHANCE = {name: chance for name, _, chance in TRAITS}

ON_TRACK = (0.95, 1.0, (1, 4))
"""On track: cumulative shares on time, a little late (the working days, below the notice's
threshold in the shipped rule sets), never."""
BEHIND = (0.40, 0.85, (2, 30))
"""Behind: cumulative shares on time, late (the working days), and the rest never complete."""


def trait(seed: int, unit_id: str) -> str:
    """A unit's diligence in this rehearsal (by its id, not the campaign's: the same seed rehearses
    the same county the same way)."""
    x = random.Random(f"{seed}:trait:{unit_id}").random()
    for name, share, _ in TRAITS:
        if x < share:
            return name
        x -= share
    return TRAITS[-1][0]


def behind(seed: int, unit_id: str, due: date) -> bool:
    """Whether the unit is behind on its work due on `due`."""
    return random.Random(f"{seed}:behind:{unit_id}:{due.isoformat()}").random() < _BEHIND_CHANCE[trait(seed, unit_id)]


DESK_TIME = "15:00"
"""When the simulated desk (orders' reports and reviews) works, after the day's notices and bulletin."""


def desk_days(calendar: WorkCalendar, start: date, end: date) -> list[date]:
    """The simulated desk's days: every `RHYTHM` working days from the launch to the plan's end."""
    out, d = [], calendar.on_or_after(start)
    while d <= end:
        out.append(d)
        d = calendar.shift(d, RHYTHM)
    return out


def notice_after(ruleset: RuleSet) -> int | None:
    """The working days after a due date at which the rule set first issues a 督办通知 (None: never)."""
    found = [
        r.trigger.working_days
        for r in ruleset.rules
        if r.trigger.kind is TriggerKind.after_due
        and (r.action.kind is ActionKind.notice or (r.action.kind is ActionKind.escalate and r.action.notice))
    ]
    return min(found) if found else None


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
    notice_after: int | None = None,
) -> dict[str, list[AgencyDay]]:
    """Per unit workflow id, the days its simulated agency acts on, in order.

    With `notice_after` (the working days after a due date at which the rule set issues a
    督办通知), agencies also answer their notices as a county's do (`rules.simulated_answers`):
    most in writing within the reply period, finishing much of the listed work, some late."""
    by_day: dict[str, dict[date, list[AgencyMove]]] = defaultdict(lambda: defaultdict(list))

    def paperwork_day(anchor: date, d: date) -> date:
        """The agency's next paperwork day on or after d."""
        n = max(0, calendar.working_days_between(anchor, d))
        return calendar.shift(anchor, -(-n // RHYTHM) * RHYTHM)

    fates: list[Fate] = []
    for spec in obligations:
        if spec.unit_id in silent:
            continue
        # Seeded by the obligation's place in the plan, not its campaign id: the same seed
        # rehearses the same way whatever the campaign is called.
        rng = random.Random(f"{seed}:{spec.id.split('/', 1)[1]}")
        anchor = calendar.on_or_after(spec.assigned)
        due = calendar.on_or_after(spec.due)
        ack = paperwork_day(anchor, calendar.shift(anchor, rng.randint(0, 6)))
        lagging = behind(seed, spec.unit_id, spec.due)
        on_time, late, (least, most) = BEHIND if lagging else ON_TRACK
        fate = rng.random()
        if fate < on_time:
            done: date | None = calendar.shift(due, -rng.randint(RHYTHM, 25))
        elif fate < late:
            done = calendar.shift(due, rng.randint(least, most))
            if not lagging and notice_after is not None:
                # A unit on track is a little late, never so late that it is 督办'd: its paperwork
                # day past the notice's threshold would be, so it finishes on the one before.
                handed_in = paperwork_day(anchor, done)
                if handed_in >= calendar.shift(due, notice_after):
                    done = calendar.shift(handed_in, -RHYTHM)
        else:
            done = None
        if done is not None and done <= ack:
            done = calendar.shift(ack, RHYTHM)
        last = done or calendar.shift(due, 10)
        mid = calendar.shift(ack, max(1, calendar.working_days_between(ack, last) // 2))
        percent = rng.choice((30, 50, 60, 80))
        progress = (paperwork_day(anchor, mid), percent) if ack < mid < last else None
        fates.append(Fate(spec, ack, progress, paperwork_day(anchor, done) if done is not None else None))

    answers: dict[str, list[tuple[date, AgencyMove]]] = {}
    if notice_after is not None:
        # Nobody reports progress on the day it reports the work done (the unit workflow sees both
        # before it fires the progress event; `rules whatif` replays them one after the other).
        fates = [
            f._replace(progress=None) if f.progress and f.complete and f.progress[0] >= f.complete else f for f in fates
        ]
        fates, answers = answer_notices(
            fates,
            calendar,
            seed=seed,
            notice_after=notice_after,
            day=lambda spec, d: paperwork_day(calendar.on_or_after(spec.assigned), d),
        )
    for f in fates:
        moves = by_day[workflow_id_of(f.spec.id)]
        moves[f.ack].append(AgencyMove(verb="acknowledge", obligation_id=f.spec.id))
        if f.progress is not None:
            moves[f.progress[0]].append(AgencyMove(verb="progress", obligation_id=f.spec.id, percent=f.progress[1]))
        for d, m in answers.get(f.spec.id, []):
            moves[d].append(m)
        if f.complete is not None and f.complete <= until:
            moves[f.complete].append(AgencyMove(verb="complete", obligation_id=f.spec.id))

    return {
        wf: [AgencyDay(plan_time=at(d, "10:00"), moves=days[d]) for d in sorted(days) if d <= until]
        for wf, days in sorted(by_day.items())
    }


def agency_action(move: AgencyMove, unit_id: str) -> tuple[str, ObligationAction]:
    """The Update a simulated agency's move is (its name and argument), as a real agency sends it."""
    if move.verb == "acknowledge":
        return "acknowledge", Acknowledge(obligation_id=move.obligation_id, unit_id=unit_id, text="已签收")
    if move.verb == "progress":
        text = move.text or "按计划推进"
        progress = ReportProgress(obligation_id=move.obligation_id, unit_id=unit_id, percent=move.percent, text=text)
        return "report_progress", progress
    return "complete", Complete(obligation_id=move.obligation_id, unit_id=unit_id, text="已办结，佐证材料已上传")


def move_id(move: AgencyMove, plan_time: datetime) -> str:
    """A move's own id, its Update's id: a retried move is recognised, never applied twice."""
    return f"{move.verb}:{move.obligation_id}@{plan_time.isoformat()}"


# -- simulated assessors ------------------------------------------------------------------------------
# A rehearsal has no assessors, so scores are made up from the seed: each town has a level (how
# well it does, the same on every sheet, so rankings hang together), each record scatters round it.
# Acceptances: a seeded few towns fail at first (MISS_SHARE) and some of those pass the re-check
# (RECOVER_SHARE); towns that never answer fail every acceptance; `misses` names exactly who fails.

SIM_ASSESSOR = "演练评分组"
SIM_SOURCE = "simulation"
MISS_SHARE, RECOVER_SHARE = 0.12, 0.5
LEVELS = (72.0, 97.0)
"""A town's level on the 0–100 scale, drawn once per town and seed."""
LEAD_DAYS = 2
"""Acceptance scores are dated this many working days before the milestone (or re-check) date."""
REVIEW_LEAD_DAYS = 10
"""The annual review is scored this many working days before the evaluation phase ends."""
SCORING_TIME = "08:00"
"""Simulated assessors store their scores early, before the day's assessments (11:00)."""


class ScoreOccasion(NamedTuple):
    """A day simulated assessors score the towns on a sheet."""

    sheet_id: str
    on: date
    recheck: bool
    milestone: str | None
    round: str | None = None
    """A scheduled round (rules.assessment_schedule): its sample of towns is scored."""

    @property
    def plan_time(self) -> datetime:
        return at(self.on, SCORING_TIME)


def score_occasions(
    book: ScoreBook, plan: Plan, calendar: WorkCalendar, rounds: Sequence[Occasion] = ()
) -> list[ScoreOccasion]:
    """When a rehearsal's assessors score: before each milestone's acceptance, before its re-check,
    before each scheduled round (on a field inspection's set date itself: its scores carry it),
    and, unless the schedule holds the annual reviews, before the one at the end of the
    evaluation phase; in time order."""
    due = {m.id: m.due for p in plan.phases for m in p.milestones}
    ends = [p.end for p in plan.phases if p.name == PhaseKind.evaluation]
    out: list[ScoreOccasion] = []
    for sheet in book.sheets:
        if sheet.kind == AssessmentKind.acceptance and sheet.milestone in due:
            held = acceptance_day(calendar, due[sheet.milestone])
            again = recheck_day(calendar, held, sheet)
            out.append(
                ScoreOccasion(sheet.id, calendar.shift(due[sheet.milestone], -LEAD_DAYS), False, sheet.milestone)
            )
            out.append(ScoreOccasion(sheet.id, max(calendar.shift(again, -LEAD_DAYS), held), True, sheet.milestone))
        elif sheet.kind == AssessmentKind.annual_review and ends and not any(r.sheet_id == sheet.id for r in rounds):
            out.append(ScoreOccasion(sheet.id, calendar.shift(ends[0], -REVIEW_LEAD_DAYS), False, None))
    for r in rounds:
        if r.round == r.on.isoformat():
            day = r.on  # a set date: the score is dated the day the inspectors came
        else:
            lead = REVIEW_LEAD_DAYS if r.kind == AssessmentKind.annual_review else LEAD_DAYS
            day = max(calendar.shift(r.on, -lead), r.since)
        out.append(ScoreOccasion(r.sheet_id, day, False, None, r.round))
    return sorted(out, key=lambda o: (o.on, o.recheck, o.sheet_id))


def town_level(seed: int, town: str) -> float:
    return random.Random(f"{seed}:level:{town}").uniform(*LEVELS)


def failing(
    sheet: ScoreSheet,
    towns: Sequence[str],
    *,
    seed: int,
    recheck: bool,
    silent: Collection[str] = (),
    misses: Collection[str] | None = None,
) -> frozenset[str]:
    """The towns that fail this scoring of the sheet. With `misses`, exactly those (of `towns`)
    fail, at the acceptance and its re-check alike; otherwise the silent towns and a seeded few."""
    if misses is not None:
        return frozenset(t for t in towns if t in misses)
    if sheet.kind != AssessmentKind.acceptance:
        return frozenset(t for t in towns if t in silent)
    out = set()
    for t in towns:
        missed = random.Random(f"{seed}:miss:{sheet.id}:{t}").random() < MISS_SHARE
        recovered = random.Random(f"{seed}:recover:{sheet.id}:{t}").random() < RECOVER_SHARE
        if t in silent or (missed and not (recheck and recovered)):
            out.add(t)
    return frozenset(out)


def simulated_scores(
    sheet: ScoreSheet,
    towns: Sequence[str],
    *,
    seed: int,
    on: date,
    recheck: bool = False,
    silent: Collection[str] = (),
    misses: Collection[str] | None = None,
) -> tuple[ScoreRecord, ...]:
    """Every town's record on the sheet for the day: the failing ones (`failing`) below the pass
    mark with one criterion well short, the others at or above it, each criterion scattered
    round the town's level and scored in half points, with a finding for each criterion failed."""
    fail = failing(sheet, towns, seed=seed, recheck=recheck, silent=silent, misses=misses)
    out = []
    for t in towns:
        rng = random.Random(f"{seed}:score:{sheet.id}:{t}:{on.isoformat()}")
        passes = t not in fail
        if passes:
            target = min(99.0, max(town_level(seed, t) + rng.uniform(-3, 3), sheet.pass_mark + 1.5))
        else:
            target = max(5.0, sheet.pass_mark - rng.uniform(4, 15))
        share = {c.id: min(100.0, max(0.0, target + rng.uniform(-4, 4))) for c in sheet.criteria}
        if not passes:  # a town fails on a short board (短板): one criterion well below standard
            weak = rng.choice(sheet.criteria).id
            share[weak] = rng.uniform(35, sheet.criterion_pass_percent - 2)
        record = _record(sheet, t, on, share)
        step = 1.0 if passes else -1.0
        # Nudge every criterion a point (of 100) at a time until the record lands on its side.
        for _ in range(200):
            if score(sheet, record).passed == passes:
                break
            share = {k: min(100.0, max(0.0, v + step)) for k, v in share.items()}
            record = _record(sheet, t, on, share)
        out.append(record)
    return tuple(out)


def _record(sheet: ScoreSheet, town: str, on: date, share: dict[str, float]) -> ScoreRecord:
    points = {c.id: _half(share[c.id] / 100 * c.max_points, c.max_points) for c in sheet.criteria}
    threshold = sheet.criterion_pass_percent / 100
    findings = tuple(f"{c.name}：未达到标准" for c in sheet.criteria if points[c.id] < c.max_points * threshold)
    return ScoreRecord(
        sheet_id=sheet.id,
        unit_id=town,
        assessor=SIM_ASSESSOR,
        assessed_on=on,
        points=points,
        findings=findings,
        source=SIM_SOURCE,
    )


def _half(x: float, cap: float) -> float:
    """To the half point, as assessors score, within 0…cap."""
    return min(cap, max(0.0, int(x * 2 + 0.5) / 2))
