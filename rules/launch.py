"""What a campaign pins at launch, from a plan, a rule set, calendar data and the server's clock.

Pure: the caller reads the files (`services.plans`) and passes what they hold; the same inputs
give the same `CampaignInput`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from models.assessment import ScoreBook
from models.calendar import CalendarData
from models.payloads import CampaignContext, CampaignInput
from models.plan import Plan
from models.ruleset import RuleSet
from models.time import CST, Clock, at
from rules.calendar import WorkCalendar
from rules.obligations import expand, units_by_phase

TEST_SERVER_LIFETIME = timedelta(days=3650)
"""The time-skipping test server ends every workflow after at most 10 years of its time (longer
timeouts are clamped), and a campaign workflow lives from launch to the plan's end."""


def calendar_years(plan: Plan) -> range:
    """The years a campaign of the plan needs working days for: escalations run past the last phase."""
    return range(plan.start.year, plan.end.year + 2)


def rehearsal_speed(plan: Plan) -> int:
    """Plan seconds per server second for a rehearsal: 1, unless the campaign (with a month for
    the last escalations) outlives the test server's limit, as 长河镇's 2021–2030 plan does;
    then plan time runs faster. Rules reason in plan time, so what happens is the same."""
    span = plan.end - plan.start + timedelta(days=31)
    return max(1, -(-span // TEST_SERVER_LIFETIME))


def grace_until(ruleset: RuleSet, calendar: CalendarData, launched: date) -> date | None:
    """The due date the office sets at launch for work the plan makes due before, or within the
    rule set's `launch.grace_working_days` official working days of, the launch: that many
    working days after it. None when the rule set gives no grace."""
    days = ruleset.launch.grace_working_days
    return WorkCalendar(calendar).shift(launched, days) if days else None


def campaign_input(
    plan: Plan,
    ruleset: RuleSet,
    calendar: CalendarData,
    *,
    campaign_id: str,
    server_now: datetime,
    live: bool,
    speed: int = 1,
    plan_from: date | None = None,
    scorebook: ScoreBook | None = None,
    push: bool = False,
) -> CampaignInput:
    """Everything a campaign pins at launch: plan, rule set, calendar, score sheets, and its clock.

    The clock starts at the plan's issue date (or `plan_from`) unless a live plan starts in
    the future; `speed` runs plan time faster than the server's, for drills on a real server.
    With `push`, the campaign runs a dispatch loop for its e-mail and webhook pushes.
    """
    launched = at(plan_from or plan.issued, ruleset.time_of_day)
    if live and launched > server_now and speed == 1:
        clock = Clock()
    else:
        clock = Clock.rehearse(plan_start=launched, server_now=server_now, speed=speed)
    ctx = CampaignContext(
        campaign_id=campaign_id,
        plan_id=plan.id,
        plan_hash=plan.digest(),
        ruleset=ruleset,
        ruleset_hash=ruleset.digest(),
        calendar=calendar,
        calendar_hash=calendar.digest(),
        clock=clock,
        notice_prefix=plan.notice_prefix,
        office=plan.joint_meeting.office,
        convener=plan.joint_meeting.convener,
        ends=plan.end,
        milestones={m.id: m.due for p in plan.phases for m in p.milestones},
        push=push,
        grace_until=grace_until(ruleset, calendar, clock.plan_time(server_now).astimezone(CST).date()),
    )
    return CampaignInput(
        context=ctx,
        plan=plan,
        launched_plan_time=clock.plan_time(server_now),
        scorebook=scorebook,
        phase_units=units_by_phase(expand(plan, campaign_id)),
    )
