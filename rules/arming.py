"""Looking ahead at a unit's next instants: the instants at which its firings would act on
nothing (slept through), and which of its actions at the next instant that acts are written
before it (reminders armed ahead), and how an armed one is known again.

Instants that act on nothing. A third of a unit's wake-ups found every firing due then false
(a reminder to sign for work already signed for, an overdue listing of work not overdue): a
wake-up, a workflow task and, in a rehearsal, a step of the server's clock for nothing. What a
firing does depends only on its obligation's state and the firing itself, and that state changes
only where the unit workflow sees it (its loop, its Updates). So a unit works out, on copies, the
first instant from which its firings would act if nothing changes (`next_acting`) and sleeps to
it; the instants before it are caught up (`catch_up`: marked fired, as the wake-up would have
marked them) the moment anything would change that state, or when the unit wakes.

In a live campaign every town's 基础型 deadline falls at one instant (a timer storm): a thousand
unit workflows wake at once and the last inbox rows of the storm would be written tens of seconds
late. A reminder to the in-app inbox alone is fully decided by its obligation's state before the
instant: it carries no number, no paper and no push. So a unit writes those of its next instant a
little ahead (`CampaignContext.arm_ahead_seconds`), shown from the instant; its wake-up at the
instant confirms them and the chain records them then. An Update before the instant that changes
what would fire makes the unit arm again (or disarm); anything with a paper, a number or a push
is written at its instant, as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from models.obligation import Obligation
from models.payloads import FiredAction
from models.ruleset import ActionKind, Channel
from models.time import Clock
from rules.engine import Engine, Firing, act_on


def armable(a: FiredAction) -> bool:
    """An inbox-only reminder without a notice: nothing in it is decided at the instant itself."""
    return a.kind is ActionKind.remind and a.channels == [Channel.inbox] and not a.notice


def mark(a: FiredAction) -> str:
    """What was armed, to tell whether the same reminder needs writing again."""
    text = hashlib.sha256(f"{a.title}\x00{a.body}".encode()).hexdigest()[:16]
    return f"{a.server_time.isoformat()}|{a.level}|{text}"


def ahead(
    engine: Engine,
    obligations: Iterable[Obligation],
    firings: Mapping[str, list[Firing]],
    instant: datetime,
    *,
    clock: Clock,
    office: str,
    convener: str,
) -> list[FiredAction]:
    """The armable actions the unit's firings at `instant` take if nothing changes before it:
    decided as the wake-up will decide them (`act_on`), on copies, so the unit's own state is
    untouched."""
    due = []
    for ob in obligations:
        if not ob.live:
            continue
        mine = [f for f in firings[ob.id] if f.at == instant and f.occurrence not in ob.fired]
        if mine:
            copy = look_copy(ob)  # one per obligation: its later firings see its earlier ones
            due += [(copy, f) for f in mine]
    if not due:
        return []
    actions = act_on(engine, due, clock=clock, office=office, convener=convener)
    return [a for a in actions if armable(a)]


def look_copy(ob: Obligation) -> Obligation:
    """A copy to look ahead on: `act_on` appends to `fired` and sets counters, nothing else, so
    a shallow copy with its own `fired` list leaves the obligation itself untouched (a deep copy
    cost a thousand units' launch ~10 times as much)."""
    return ob.model_copy(update={"fired": list(ob.fired)})


@dataclass(frozen=True)
class Look:
    """What a unit's pending firings do if nothing changes: the first instant that acts (or the
    first not looked at), what it does (None when not looked at), and the quiet ones before it."""

    instant: datetime | None
    actions: list[FiredAction] | None
    quiet: list[datetime]


def next_acting(
    engine: Engine,
    obligations: Iterable[Obligation],
    firings: Mapping[str, list[Firing]],
    *,
    before: datetime | None,
    clock: Clock,
    office: str,
    convener: str,
) -> Look:
    """The first instant (before `before`, when the unit wakes anyway) at which the unit's
    pending firings would act if nothing changes, what they would do then, and the instants
    before it at which they would not. Decided as the wake-ups would decide them (`act_on`,
    instant after instant), on copies. With no acting instant before `before`, the first instant
    from `before` on, if any, is returned, not looked at."""
    by_instant: dict[datetime, list[tuple[str, Firing]]] = {}
    live = {ob.id: ob for ob in obligations if ob.live}
    for oid, ob in live.items():
        for f in firings[oid]:
            if f.occurrence not in ob.fired:
                by_instant.setdefault(f.at, []).append((oid, f))
    copies: dict[str, Obligation] = {}
    quiet: list[datetime] = []
    for instant in sorted(by_instant):
        if before is not None and instant >= before:
            return Look(instant, None, quiet)
        due = []
        for oid, f in by_instant[instant]:
            if oid not in copies:
                copies[oid] = look_copy(live[oid])
            due.append((copies[oid], f))
        actions = act_on(engine, due, clock=clock, office=office, convener=convener)
        if actions:
            return Look(instant, actions, quiet)
        quiet.append(instant)
    return Look(None, None, quiet)


def catch_up(
    engine: Engine,
    obligations: Iterable[Obligation],
    firings: Mapping[str, list[Firing]],
    instants: Iterable[datetime],
    *,
    clock: Clock,
    office: str,
    convener: str,
) -> list[FiredAction]:
    """Act on the unit's own obligations at instants `next_acting` found quiet, as their
    wake-ups would have: marked fired. Returns the actions taken, which is none unless the
    obligations changed since that look (then they are the unit's to deliver)."""
    at = set(instants)
    due = [
        (ob, f) for ob in obligations if ob.live for f in firings[ob.id] if f.at in at and f.occurrence not in ob.fired
    ]
    return act_on(engine, due, clock=clock, office=office, convener=convener) if due else []
