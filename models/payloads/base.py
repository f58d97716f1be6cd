"""The base of every payload, the activities' names, and the provenance every audit row carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- activity names: workflows call activities by name so that workflow code never imports the
#    activity implementations (and with them the database driver) into the sandbox.
class Act(StrEnum):
    register_campaign = "register_campaign"
    load_obligations = "load_obligations"
    deliver = "deliver"
    mirror = "mirror"
    monthly_cycle = "monthly_cycle"
    assess = "assess"
    close_campaign = "close_campaign"
    record_refusal = "record_refusal"
    record_rules = "record_rules"
    record_amendment = "record_amendment"
    simulate_agency = "simulate_agency"
    agency_days = "agency_days"  # rehearsals: a unit workflow's own simulated agency (AgencyDays → list[AgencyDay])
    evaluate = "evaluate"  # 总结评价: the comprehensive evaluation, the final report (EvaluateRun)
    simulate_desk = "simulate_desk"  # rehearsals: units report on orders, the office reviews (SimulateDesk)
    simulate_scores = "simulate_scores"  # rehearsals: the simulated assessors' scores (SimulateScores)
    dispatch = "dispatch"  # e-mail and webhook pushes: models.delivery.DispatchRequest / DispatchResult
    dispatch_alert = "dispatch_alert"  # a channel down or a push uncertain: told to the office
    rectification_open = "rectification_open"
    rectification_step = "rectification_step"
    check_evidence = "check_evidence"  # the stored files an Update cites: CheckEvidence → EvidenceChecked
    arm = "arm"  # live campaigns: a unit's next instant's reminders written ahead (ArmBatch, local)
    # The same four effects run as local activities (in the calling workflow's task, on its worker):
    # each returns its input beside its result, since a local activity's history marker records
    # only the result and `audit verify` derives the audit keys from the input (activities.history).
    deliver_here = "deliver_here"  # DeliverBatch → DeliveredHere
    mirror_here = "mirror_here"  # MirrorBatch → MirroredHere
    rectification_open_here = "rectification_open_here"  # OpenOrder → OpenedHere
    rectification_step_here = "rectification_step_here"  # RectificationStep → StepRecorded


class Provenance(Payload):
    """Why something happened: carried into every audit row."""

    campaign_id: str
    plan_hash: str
    ruleset_hash: str
    workflow_id: str
    run_id: str
