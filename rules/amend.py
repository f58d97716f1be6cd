"""Plan amendments on a running campaign: what changes for whom.

The amended plan is expanded like the original, and the two lists of obligations are compared
by id (campaign/phase/unit/task-milestone): obligations only in the new plan are added, those
only in the old are withdrawn, and those in both whose due date or lead unit differ are moved or
handed to the new lead. Pure: the campaign workflow asks, then tells the units.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from models.obligation import ObligationSpec
from models.payloads import PlanDiff, UnitAmendment
from models.plan import PhaseKind, Plan
from rules.obligations import expand


class AmendmentError(ValueError):
    pass


def diff(old: Plan, new: Plan, campaign_id: str, *, today: date) -> PlanDiff:
    """The obligations to add, withdraw, move and hand over, unit by unit.

    Refused (AmendmentError): another plan (a different id), a change to the phases' dates, or a
    change to work whose phase has ended: history is not rewritten.
    """
    if new.id != old.id:
        raise AmendmentError(f"the amendment is plan {new.id!r}, not this campaign's {old.id!r}")
    for p in old.phases:
        try:
            q = new.phase(p.name)
        except KeyError:
            raise AmendmentError(f"the amendment drops phase {p.name}: phases cannot be removed") from None
        if (q.start, q.end) != (p.start, p.end):
            raise AmendmentError(f"phase {p.name}: its dates cannot change on a running campaign ({p.start}–{p.end})")
    before = {s.id: s for s in expand(old, campaign_id)}
    after = {s.id: s for s in expand(new, campaign_id)}
    ended = {p.name for p in old.phases if p.end < today}
    out: dict[str, dict[str, UnitAmendment]] = defaultdict(dict)

    def unit(s: ObligationSpec) -> UnitAmendment:
        if s.phase in ended:
            raise AmendmentError(f"{s.id}: phase {s.phase.value} ended on {old.phase(s.phase).end}: it cannot change")
        return out[s.phase.value].setdefault(s.unit_id, UnitAmendment())

    for oid, s in after.items():
        if oid not in before:
            unit(s).added.append(s.model_copy(update={"assigned": max(s.assigned, today)}))
        else:
            b = before[oid]
            if s.due != b.due:
                unit(s).moved[oid] = s.due
            if s.lead != b.lead:
                unit(s).relead[oid] = s.lead
    for oid, b in before.items():
        if oid not in after:
            unit(b).withdrawn.append(oid)
    return PlanDiff(units={p: dict(u) for p, u in out.items()})


def phase_of(name: str) -> PhaseKind:
    return PhaseKind(name)
