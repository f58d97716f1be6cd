"""Side effects: every one an activity with a timeout, a retry policy and an idempotency key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.assessing import AssessmentActivities
from activities.campaign import CampaignActivities
from activities.delivery import Outbox
from activities.dispatching import DispatchAlerts
from activities.evidence_check import EvidenceActivities
from activities.gathering import Gathering
from activities.rectification import RectificationActivities
from activities.sending import DeliveryActivities
from activities.simulate import AgencySimulator, DeskSimulator


def build(
    engine: AsyncEngine,
    client: Client | None = None,
    *,
    campaign: CampaignActivities | None = None,
    outbox: Outbox | None = None,
    delivery: DeliveryActivities | None = None,
    papers_on_request: bool = False,
    gathering: Gathering | None = None,
) -> list[Callable[..., Any]]:
    """The activities a worker runs, with their dependencies injected (`campaign` and `delivery`
    let a test hand in ones that inject faults). Without an `outbox`, actions reach the in-app
    inbox only; with `papers_on_request`, notices', bulletins' and the final report's papers are
    left for the first request to render; with `gathering`, deliveries and mirrors arriving
    together share a transaction."""
    c = campaign or CampaignActivities(engine, outbox, papers_on_request=papers_on_request, gathering=gathering)
    d = delivery or DeliveryActivities(engine)
    a = AssessmentActivities(engine, outbox, papers_on_request=papers_on_request)
    r = RectificationActivities(engine, c.outbox)  # an order's notices go where the campaign's go
    out: list[Callable[..., Any]] = [
        c.register_campaign,
        c.load_obligations,
        c.deliver,
        c.deliver_here,
        c.arm,
        c.mirror,
        c.mirror_here,
        c.monthly_cycle,
        a.assess,
        a.evaluate,
        c.close_campaign,
        c.record_refusal,
        c.record_rules,
        c.record_amendment,
        d.dispatch,
        DispatchAlerts(engine).dispatch_alert,
        r.rectification_open,
        r.rectification_open_here,
        r.rectification_step,
        r.rectification_step_here,
        EvidenceActivities(engine).check_evidence,
    ]
    if client is not None:
        agencies = AgencySimulator(client, engine)
        out += [
            agencies.simulate_agency,
            agencies.agency_days,
            a.simulate_scores,
            DeskSimulator(client, engine).simulate_desk,
        ]
    return out
