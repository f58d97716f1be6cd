"""What every workflow shares: activity options, the compiled engine, plan time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from models.payloads import LOCAL_EFFECTS, Act, CampaignContext, EngineCost, Provenance, Refusal
from rules.calendar import WorkCalendar
from rules.engine import Engine

# Database writes are idempotent (keys enforced by unique constraints), so retrying is always
# safe: retry with backoff for up to a day, which rides out a database restart or a long
# outage without losing a reminder. Bad input is not retried: it will not get better.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidInput"],
)
DB_ACTIVITY: dict[str, Any] = {
    # A batch is one transaction of at most a few thousand rows: seconds at worst. A worker
    # that dies mid-attempt is noticed after this long, and the attempt runs again elsewhere.
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(days=1),
    "retry_policy": DB_RETRY,
}
# The short writes of a wake-up (`deliver`, `mirror`, an order's open and steps) run as local
# activities: inside the workflow task that decides them, on its worker, with no activity task
# and no second workflow task to resume (three wake-ups of the worker's one thread become one;
# a marker event instead of three). The same timeouts and backoff as DB_ACTIVITY; the first
# retries (1, 2, 4, 8, 16, 32 s) run in the worker while the workflow task is held open, which
# rides out a database blip without a round trip; past a minute the next backoff is a durable
# timer instead, so an outage holds no workflow task open and a worker restart loses nothing.
# A worker that dies mid-attempt: its workflow task times out and the next worker runs the
# attempt again, a no-op by the same idempotency keys.
LOCAL_DB_ACTIVITY: dict[str, Any] = {
    **DB_ACTIVITY,
    "local_retry_threshold": timedelta(minutes=1),
}
LOCAL_EFFECTS_PATCH = "local-effects"
"""Histories from before ran these effects, and a unit's first reads, as ordinary activities."""


@dataclass(frozen=True)
class Baseline:
    """A run that began on code with every patch in `covers` (its first task recorded the
    baseline's own patch) takes each of them without asking: one marker (and one
    `TemporalChangeVersion` upsert) for the run instead of one per patch. A province launch
    starts a thousand unit workflows at once, and each patch was two more events for the server
    to write per unit (BENCHMARKS.md). Runs from before the baseline ask each patch as before, so
    their histories replay. A patch added after the baseline is not in `covers`: it is asked."""

    on: bool
    covers: frozenset[str]

    @classmethod
    def start(cls, *eras: tuple[str, frozenset[str]]) -> Baseline:
        """Call first thing in the run: a run's first task decides it. `eras` are baselines,
        newest first, each with the patches it covers: a new run records the newest; a run from
        before it replays with the one it recorded (asking a newer one records nothing there)."""
        for name, covers in eras:
            if workflow.patched(name):
                return cls(True, covers)
        return cls(False, frozenset())

    def patched(self, name: str) -> bool:
        return (self.on and name in self.covers) or workflow.patched(name)


NO_BASELINE = Baseline(False, frozenset())
"""Workflows without a baseline: every patch is asked."""


async def write_effect(effect: Act, arg: Any, *, result_type: Any = None, baseline: Baseline = NO_BASELINE) -> Any:
    """A wake-up's write and what the ordinary activity returns: run locally as its entry in
    `LOCAL_EFFECTS` (whose result carries its input for the record beside that result), or as
    the ordinary activity in histories from before `LOCAL_EFFECTS_PATCH`."""
    if baseline.patched(LOCAL_EFFECTS_PATCH):
        local = LOCAL_EFFECTS[effect]
        done = await workflow.execute_local_activity(local.act, arg, result_type=local.returns, **LOCAL_DB_ACTIVITY)
        return done.result
    return await workflow.execute_activity(effect, arg, result_type=result_type, **DB_ACTIVITY)


async def short_read(act: Act, arg: Any, *, result_type: Any, baseline: Baseline = NO_BASELINE) -> Any:
    """A short read a workflow waits on before it can go on (a unit's obligations, its simulated
    agency's days): a local activity, as the writes above, or an ordinary one in histories from
    before `LOCAL_EFFECTS_PATCH`. Reads write no audit row, so they return only their result."""
    if baseline.patched(LOCAL_EFFECTS_PATCH):
        return await workflow.execute_local_activity(act, arg, result_type=result_type, **LOCAL_DB_ACTIVITY)
    return await workflow.execute_activity(act, arg, result_type=result_type, **DB_ACTIVITY)


# A long activity beats (`activities.keepalive`) so that a worker that dies mid-attempt is noticed
# after this long, not after the attempt's whole start-to-close timeout.
HEARTBEAT_TIMEOUT = timedelta(seconds=30)
# Reports scan a whole campaign: give them longer per attempt, and heartbeats.
REPORT_ACTIVITY: dict[str, Any] = {
    **DB_ACTIVITY,
    "start_to_close_timeout": timedelta(minutes=5),
    "heartbeat_timeout": HEARTBEAT_TIMEOUT,
}

# Sending e-mail and webhooks (Act.dispatch). A retried dispatch never sends a claimed message
# again (it surfaces it as uncertain), so retrying the activity is safe; a receiver's own
# failures are retried inside the ledger (per message, with backoff and quiet hours), not here.
# So this policy only rides out the worker or the database going away: the same day-long backoff
# as DB writes. An attempt claims rows for at most delivery_budget_seconds (60 s) and then waits
# for the sends in flight (each bounded by its SMTP/HTTP timeout, 20 s at most): 3 minutes covers
# it; a dead worker is noticed sooner, by its missing heartbeats. An unknown campaign will not get
# better.
DISPATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidInput"],
)
DISPATCH_ACTIVITY: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=3),
    "heartbeat_timeout": HEARTBEAT_TIMEOUT,
    "schedule_to_close_timeout": timedelta(days=1),
    "retry_policy": DISPATCH_RETRY,
}

HISTORY_LIMIT = 8000
"""Continue as new before Temporal's 10,240-event warning."""

AGENCY_IN_UNIT_PATCH = "agency-in-unit"
"""A rehearsal's unit workflow acts its simulated agency's moves itself (no agency workflow, no
activity sending Updates): histories from before received them as Updates."""

_engines: dict[tuple[Any, ...], Engine] = {}


def engine_for(ctx: CampaignContext) -> Engine:
    """The campaign's engine for this rule set and calendar, compiled once per workflow run (the
    sandbox re-imports this module for each run; compiling a rule set takes microseconds).
    The engine is pure and its inputs are pinned by hash, so sharing it is safe."""
    key = (ctx.ruleset_hash, ctx.calendar_hash, tuple(sorted(ctx.milestones.items())))
    if key not in _engines:
        _engines[key] = Engine(ctx.ruleset, WorkCalendar(ctx.calendar), ctx.milestones)
    return _engines[key]


def plan_now(ctx: CampaignContext) -> datetime:
    return ctx.clock.plan_time(workflow.now())


async def sleep_until(ctx: CampaignContext, plan_time: datetime) -> None:
    """Sleep until a plan instant (timers run on server time)."""
    delay = ctx.clock.server_time(plan_time) - workflow.now()
    if delay > timedelta(0):
        await workflow.sleep(delay)


def provenance(ctx: CampaignContext) -> Provenance:
    info = workflow.info()
    return Provenance(
        campaign_id=ctx.campaign_id,
        plan_hash=ctx.plan_hash,
        ruleset_hash=ctx.ruleset_hash,
        workflow_id=info.workflow_id,
        run_id=info.run_id,
    )


def own_cost(activities: int, carried: EngineCost | None = None) -> EngineCost:
    """This run's cost, plus what earlier runs of the same workflow (continue-as-new) carried."""
    mine = EngineCost(
        workflows=0 if carried else 1,
        activities=activities,
        history_events=workflow.info().get_current_history_length(),
    )
    return mine.add(carried) if carried else mine


def refuse(message: str) -> ApplicationError:
    """An Update refused for bad input: the caller gets the message, nothing changes."""
    return ApplicationError(message, type="InvalidInput", non_retryable=True)


async def record_refusal(
    ctx: CampaignContext,
    *,
    verb: str,
    subject: str,
    known: bool,
    actor: str,
    reason: str,
    text: str = "",
    account: str | None = None,
    role: str | None = None,
    token: str | None = None,
) -> ApplicationError:
    """Put a refused Update on the record (an activity, keyed by the Update's id, so a retried
    Update records it once) and return the error to fail it with: every refused attempt is in
    the audit trail, which a validator's rejection would not be."""
    info = workflow.current_update_info()
    now = workflow.now()
    token = token or (info.id if info else now.isoformat())
    await workflow.execute_activity(
        Act.record_refusal,
        Refusal(
            provenance=provenance(ctx),
            key=f"{workflow.info().workflow_id}#refused:{token}",
            verb=verb,
            obligation_id=subject,
            known=known,
            actor=actor,
            reason=reason,
            text=text,
            plan_time=ctx.clock.plan_time(now),
            server_time=now,
            account=account,
            role=role,
        ),
        **DB_ACTIVITY,
    )
    return refuse(reason)
