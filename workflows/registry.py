"""Every workflow a worker registers. Kept apart from the package's `__init__` so that the
sandbox, which imports a workflow's own module afresh for each run, does not import every
workflow module with it (importing `workflows.unit` runs `workflows/__init__` first)."""

import functools
import hashlib
from pathlib import Path

import temporalio

from workflows.assessments import AssessmentsWorkflow
from workflows.campaign import CampaignWorkflow
from workflows.dispatch import DispatchWorkflow
from workflows.monthly import MonthlyWorkflow
from workflows.phase import PhaseWorkflow, UnitBatchWorkflow
from workflows.rectification import RectificationWorkflow
from workflows.simulation import AgencyWorkflow, SimulationWorkflow
from workflows.unit import UnitWorkflow

WORKFLOWS: list[type] = [
    CampaignWorkflow,
    PhaseWorkflow,
    UnitBatchWorkflow,
    UnitWorkflow,
    MonthlyWorkflow,
    RectificationWorkflow,
    DispatchWorkflow,
    AssessmentsWorkflow,
]
REHEARSAL_WORKFLOWS: list[type] = [SimulationWorkflow, AgencyWorkflow]


@functools.cache
def build_id() -> str:
    """The worker's build id: a digest of the source the workflows run on (these packages and the
    SDK's version). The SDK's default hashes the bytecode of every module loaded in the process,
    about 0.3 s at each worker start here (a rehearsal starts one); this reads ~100 files."""
    h = hashlib.sha256(f"temporalio {temporalio.__version__}\n".encode())
    root = Path(__file__).resolve().parent.parent
    for package in ("workflows", "models", "rules"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(f"{path.relative_to(root)}\n".encode())
            h.update(path.read_bytes())
    return f"duban-{h.hexdigest()[:16]}"
