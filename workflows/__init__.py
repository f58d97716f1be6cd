"""Orchestration only: timers, Updates, queries, children, continue-as-new. Every effect is an
activity, called by name (models.payloads.Act) so no database code enters the sandbox.

The names below are imported on first use (PEP 562), not here: the sandbox imports a workflow's
module afresh for every run, and importing any `workflows.x` runs this file first, so importing
every workflow module here made each run import all thirteen (BENCHMARKS.md, "the sandbox")."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.assessments import AssessmentsWorkflow
    from workflows.campaign import CampaignWorkflow
    from workflows.dispatch import DispatchWorkflow
    from workflows.monthly import MonthlyWorkflow
    from workflows.phase import PhaseWorkflow, UnitBatchWorkflow
    from workflows.rectification import RectificationWorkflow
    from workflows.registry import REHEARSAL_WORKFLOWS, WORKFLOWS
    from workflows.runner import PASSTHROUGH, sandbox
    from workflows.simulation import AgencyWorkflow, SimulationWorkflow
    from workflows.unit import UnitWorkflow

_WHERE = {
    "AssessmentsWorkflow": "workflows.assessments",
    "CampaignWorkflow": "workflows.campaign",
    "DispatchWorkflow": "workflows.dispatch",
    "MonthlyWorkflow": "workflows.monthly",
    "PhaseWorkflow": "workflows.phase",
    "UnitBatchWorkflow": "workflows.phase",
    "RectificationWorkflow": "workflows.rectification",
    "AgencyWorkflow": "workflows.simulation",
    "SimulationWorkflow": "workflows.simulation",
    "UnitWorkflow": "workflows.unit",
    "WORKFLOWS": "workflows.registry",
    "REHEARSAL_WORKFLOWS": "workflows.registry",
    "PASSTHROUGH": "workflows.runner",
    "sandbox": "workflows.runner",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        # Also how `from workflows import unit` finds a submodule: the import system falls back
        # to importing it when the attribute is missing.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)


__all__ = [
    "PASSTHROUGH",
    "REHEARSAL_WORKFLOWS",
    "WORKFLOWS",
    "AgencyWorkflow",
    "AssessmentsWorkflow",
    "CampaignWorkflow",
    "DispatchWorkflow",
    "MonthlyWorkflow",
    "PhaseWorkflow",
    "RectificationWorkflow",
    "SimulationWorkflow",
    "UnitBatchWorkflow",
    "UnitWorkflow",
    "sandbox",
]
