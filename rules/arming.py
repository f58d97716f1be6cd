"""Reminders armed ahead: which of a unit's actions at its next instant are written before it,
and how an armed one is known again.

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
    due = [
        (ob.model_copy(deep=True), f)
        for ob in obligations
        if ob.live
        for f in firings[ob.id]
        if f.at == instant and f.occurrence not in ob.fired
    ]
    if not due:
        return []
    actions = act_on(engine, due, clock=clock, office=office, convener=convener)
    return [a for a in actions if armable(a)]
