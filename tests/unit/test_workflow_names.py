"""Workflows started by name are the registered ones, and a unit workflow's sandbox imports only
what a unit run needs."""

from __future__ import annotations

import subprocess
import sys

from temporalio.workflow import _Definition

from workflows.dispatch import DispatchWorkflow
from workflows.orders import ORDER_WORKFLOW
from workflows.pokes import POKE_SIGNAL
from workflows.rectification import RectificationWorkflow


def test_orders_are_started_under_the_rectification_workflows_registered_name() -> None:
    assert _Definition.must_from_class(RectificationWorkflow).name == ORDER_WORKFLOW


def test_pokes_use_the_dispatch_loops_signal_name() -> None:
    assert POKE_SIGNAL in _Definition.must_from_class(DispatchWorkflow).signals


def test_a_unit_workflow_imports_no_other_workflows_module() -> None:
    # In a fresh interpreter: what `workflows.unit` pulls in is what the sandbox re-runs per run.
    code = "import sys, workflows.unit; print(' '.join(sorted(m for m in sys.modules if m.startswith('workflows'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "workflows.unit" in out
    assert not {"workflows.rectification", "workflows.rectification_answers", "workflows.dispatch"} & set(out), out
