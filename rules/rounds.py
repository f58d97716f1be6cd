"""督办 rounds: one 督办通知 per unit per escalation round, one 责令整改 per unit per batch.

An office does not send a unit one notice per overdue task: at each round of 督办 it sends the
unit one notice listing everything overdue, and one order listing what it must rectify. A unit
workflow fires its rules per obligation; the actions it fires at one wake-up (its batch) are one
round, and this module says which paper each belongs to. Pure: the `deliver` activity writes the
papers from it, and `audit verify` derives from it, from the batch in Temporal's history, the keys
the papers' audit rows must have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from models.payloads import FiredAction
from models.rectification import OrderState
from models.ruleset import ActionKind

NOTICE_SUFFIX = "#notice"


class Round(NamedTuple):
    """The actions of one batch that one paper carries, and that paper's idempotency key."""

    key: str
    unit_id: str
    actions: tuple[FiredAction, ...]

    @property
    def obligation_ids(self) -> list[str]:
        return list(dict.fromkeys(a.obligation_id for a in self.actions))


def noticed(a: FiredAction) -> bool:
    """The action issues a 督办通知 (a notice rule, or an escalation that carries one)."""
    return a.kind is ActionKind.notice or (a.kind is ActionKind.escalate and a.notice)


def _by_unit(actions: Iterable[FiredAction]) -> dict[str, list[FiredAction]]:
    out: dict[str, list[FiredAction]] = {}
    for a in actions:
        out.setdefault(a.unit_id, []).append(a)
    return out


def notice_rounds(actions: Sequence[FiredAction]) -> list[Round]:
    """Per unit, in the batch's order, the notice-bearing actions one 督办通知 lists. Its key is
    the first action's own key with `#notice`, as an escalation's notice had before notices were
    grouped, so the papers code (rendering, pushes, `duban notice`) reads it unchanged."""
    return [
        Round(f"{acts[0].key}{NOTICE_SUFFIX}", unit, tuple(acts))
        for unit, acts in _by_unit(a for a in actions if noticed(a)).items()
    ]


def order_rounds(actions: Sequence[FiredAction]) -> list[Round]:
    """Per unit, the batch's 责令整改 actions one order lists, keyed `CAMPAIGN#rectify#RULE@WHEN#UNIT`
    (the first action's rule and firing), like the monthly bulletin's `CAMPAIGN#rectify#MONTH#UNIT`."""
    out = []
    for unit, acts in _by_unit(a for a in actions if a.kind is ActionKind.rectify).items():
        first = acts[0]
        campaign = first.obligation_id.split("/", 1)[0]
        when = first.key.rsplit("@", 1)[-1]
        out.append(Round(f"{campaign}#rectify#{first.rule_id}@{when}#{unit}", unit, tuple(acts)))
    return out


def audit_keys(actions: Sequence[FiredAction], *, per_unit: bool) -> set[str]:
    """The audit rows a delivered batch writes, by key. Grouped (`per_unit`): one per action (the
    escalation, reminder, listing …; a notice rule's or a rectify rule's action says which paper
    lists its obligation) and one per paper (each round's notice and order). Not grouped: as
    batches were delivered before (a notice per escalation, an order per rectify action)."""
    keys = {a.key for a in actions}
    if not per_unit:
        return keys | {f"{a.key}{NOTICE_SUFFIX}" for a in actions if a.notice and a.kind is ActionKind.escalate}
    return keys | {r.key for r in notice_rounds(actions)} | {r.key for r in order_rounds(actions)}


class PriorOrder(NamedTuple):
    """An order a unit already has, as the next one's level reads it."""

    state: OrderState
    level: int
    unanswered: bool
    """Its due date passed without a report at some point (escalated, or still awaiting one past
    its due date: an order no workflow follows is never marked escalated), whatever came after."""


def order_level(prior: Iterable[PriorOrder], *, measures: int) -> int:
    """The rung of a unit's next order: one up for every earlier order left unanswered past its
    due date (repeated non-response raises the measure), never past the rule set's last."""
    return min(measures, 1 + sum(1 for p in prior if p.unanswered))


def raised_level(*, level: int, state: OrderState, overdue: bool, measures: int) -> int:
    """The rung of a unit's open order when the unit is ordered again: one up when it was not
    answering it (still awaiting its report, its due date passed), never past the last."""
    return min(measures, level + 1) if state.awaiting_report and overdue else level
