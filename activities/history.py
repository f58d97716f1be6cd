"""A campaign's Temporal histories: collect, save, load, and cross-check with the audit chain.

The record an auditor needs to trust is two-sided: Temporal's histories say what the workflows
decided and which activities they ran with which inputs; the audit chain says what those
activities did. `cross_check` holds them against each other, and `services.audit.replay` runs
the histories through the current workflow code (this layer imports no workflows), so a code
change that would break a running campaign is named, not hidden.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from activities.campaign.common import amendment_key, rules_key
from activities.codec import PAYLOADS
from activities.history_cost import LOCAL_ACTIVITY_MARKER
from activities.history_files import load_histories
from activities.store.audit import ChainReport
from activities.store.scores import CLI_WORKFLOW
from models.payloads import (
    LOCAL_EFFECTS,
    Act,
    CloseCampaign,
    DeliverBatch,
    DispatchAlert,
    MirrorBatch,
    OpenOrder,
    RecordAmendment,
    RecordRules,
    RectificationStep,
    Refusal,
    RegisterCampaign,
)
from rules.rounds import audit_keys

# Audit kinds whose every row must trace back to an activity input in Temporal's history.
TRACED_KINDS = (
    "reminder",
    "escalation",
    "notice",
    "listed",
    "refused",
    "rules.installed",
    "plan.amended",
    "campaign.launched",
    "campaign.closed",
)
TRACED_PREFIXES = ("obligation.", "extension.", "rectification.", "delivery.")


async def collect(
    client: Client,
    roots: Iterable[str],
    *,
    optional: Iterable[str] = (),
    progress: Callable[[int], None] | None = None,
    at_once: int = 16,
) -> list[WorkflowHistory]:
    """Every history under the root workflows (and the `optional` roots that exist): children,
    recursively, and every run of a workflow that continued as new. Works on any server: it
    needs no visibility queries. Each generation (the roots, then the children and next runs
    their histories name, …) is fetched `at_once` at a time: a rehearsal's ~120 histories one
    after the other were ~120 round trips on the run's clock."""
    out: list[WorkflowHistory] = []
    maybe = set(optional)
    todo: list[tuple[str, str | None]] = [(r, None) for r in (*roots, *maybe)]
    seen: set[tuple[str, str]] = set()
    gate = asyncio.Semaphore(at_once)

    async def fetch(wid: str, rid: str | None) -> WorkflowHistory | None:
        async with gate:
            try:
                return await client.get_workflow_handle(wid, run_id=rid).fetch_history()
            except RPCError as err:
                if wid in maybe and rid is None and err.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise

    while todo:
        fetched = await asyncio.gather(*(fetch(wid, rid) for wid, rid in todo))
        todo = []
        for history in fetched:
            if history is None or (history.workflow_id, history.run_id) in seen:
                continue
            seen.add((history.workflow_id, history.run_id))
            out.append(history)
            if progress:
                progress(len(out))
            todo.extend(_named(history))
    return out


def _named(history: WorkflowHistory) -> list[tuple[str, str | None]]:
    """The runs a history names: its children, and its next run if it continued as new."""
    named: list[tuple[str, str | None]] = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            a = e.child_workflow_execution_started_event_attributes
            named.append((a.workflow_execution.workflow_id, a.workflow_execution.run_id))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            a2 = e.workflow_execution_continued_as_new_event_attributes
            named.append((history.workflow_id, a2.new_execution_run_id))
    return named


def _file_name(h: WorkflowHistory) -> str:
    return f"{h.workflow_id.replace('/', '__')}__{h.run_id}.json"


def save(histories: Iterable[WorkflowHistory], folder: Path, *, replace: bool = False) -> int:
    """Each history as JSON (what `audit verify --histories` reads), one file per run.
    `replace`: the folder holds one campaign's histories (a rehearsal's output), so files left
    from an earlier one are removed first."""
    folder.mkdir(parents=True, exist_ok=True)
    if replace:
        for old in folder.glob("*.json"):
            old.unlink()
    n = 0
    for h in histories:
        (folder / _file_name(h)).write_text(h.to_json())
        n += 1
    return n


def own(histories: list[WorkflowHistory], campaign: str) -> tuple[list[WorkflowHistory], int]:
    """The campaign's histories (its own workflow and those under it, `CAMPAIGN/…`), and how
    many others there were."""
    mine = [h for h in histories if h.workflow_id == campaign or h.workflow_id.startswith(f"{campaign}/")]
    return mine, len(histories) - len(mine)


def load(folder: Path) -> list[WorkflowHistory]:
    """The histories in a folder, each with the workflow and run id it names itself
    (`activities.history_files`)."""
    return load_histories(folder).histories


@dataclass
class ReplayReport:
    replayed: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Effects:
    """What Temporal's histories say the activities were asked to record."""

    keys: set[str] = field(default_factory=set)
    runs: set[tuple[str, str]] = field(default_factory=set)
    # Runs whose history has no closing event yet: their newest activity may have written its
    # rows before Temporal recorded it done (a 责令整改 workflow outlives its closed campaign).
    open: set[tuple[str, str]] = field(default_factory=set)


_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def effects(histories: Iterable[WorkflowHistory]) -> Effects:
    """Audit keys implied by every completed activity's input, and every (workflow, run)."""
    conv = PAYLOADS.payload_converter
    out = Effects()
    for h in histories:
        out.runs.add((h.workflow_id, h.run_id))
        if not h.events or h.events[-1].event_type not in _CLOSED:
            out.open.add((h.workflow_id, h.run_id))
        scheduled: dict[int, Any] = {}
        for e in h.events:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[e.event_id] = e.activity_task_scheduled_event_attributes
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                a = scheduled[e.activity_task_completed_event_attributes.scheduled_event_id]
                out.keys.update(_keys(a.activity_type.name, conv, a.input.payloads))
            elif (done := local_activity(e)) is not None:
                out.keys.update(_local_keys(done[0], conv, done[1]))
    return out


def local_activity(e: Any) -> tuple[str, Any] | None:
    """A local activity's marker that records a result: its activity type and result payloads.
    A failed one (its attempts used up) records a failure and no result: it did nothing to hold
    against the chain, as a failed ordinary activity did not."""
    if e.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
        return None
    m = e.marker_recorded_event_attributes
    if m.marker_name != LOCAL_ACTIVITY_MARKER or m.HasField("failure") or "result" not in m.details:
        return None
    data = json.loads(m.details["data"].payloads[0].data)
    return data["activity_type"], m.details["result"].payloads


_ECHOED: dict[str, type[Any]] = {local.act: local.returns for local in LOCAL_EFFECTS.values()}
"""Local activities and their results, each with the `input` it was given: a marker records a
local activity's result but not its input, so each returns its input for this check."""


def _local_keys(activity: str, conv: Any, payloads: Any) -> set[str]:
    result = _ECHOED.get(activity)
    return set() if result is None else _input_keys(conv.from_payloads(payloads, [result])[0].input)


_INPUTS: dict[str, type[Any]] = {
    Act.deliver: DeliverBatch,
    Act.record_amendment: RecordAmendment,
    Act.record_rules: RecordRules,
    Act.mirror: MirrorBatch,
    Act.register_campaign: RegisterCampaign,
    Act.record_refusal: Refusal,
    Act.rectification_open: OpenOrder,
    Act.rectification_step: RectificationStep,
    Act.dispatch_alert: DispatchAlert,
    Act.close_campaign: CloseCampaign,
}
"""The activities whose input names audit rows, and their input's model."""


def _keys(activity: str, conv: Any, payloads: Any) -> set[str]:
    kind = _INPUTS.get(activity)
    return set() if kind is None else _input_keys(conv.from_payloads(payloads, [kind])[0])


def _input_keys(inp: Any) -> set[str]:
    """The audit keys an activity's input names."""
    match inp:
        case DeliverBatch():
            return audit_keys(inp.actions, per_unit=inp.per_unit)
        case RecordAmendment():
            return {amendment_key(inp)}
        case RecordRules():
            return {rules_key(inp)}
        case MirrorBatch():
            return {c.key for c in inp.changes}
        case RegisterCampaign():
            return {f"{inp.context.campaign_id}#launch"}
        case Refusal() | DispatchAlert():
            return {inp.key}
        case OpenOrder():
            return {f"{inp.order.key}#opened"}
        case RectificationStep():
            return {a.key for a in inp.actions} | ({inp.event_key} if inp.event_key else set())
        case CloseCampaign():
            return {f"{inp.provenance.campaign_id}#closed"}
    return set()


def traced(kind: str) -> bool:
    return kind in TRACED_KINDS or kind.startswith(TRACED_PREFIXES)


def given_rows(
    found: Effects, rows: Iterable[tuple[str, str, str, str]]
) -> tuple[list[tuple[str, str, str, str]], int]:
    """For a subset of histories: the audit rows made by the runs given, and how many others."""
    kept, others = [], 0
    for row in rows:
        if (row[2], row[3]) in found.runs:
            kept.append(row)
        elif row[2] != CLI_WORKFLOW:
            others += 1
    return kept, others


def cross_check(found: Effects, rows: Iterable[tuple[str, str, str, str]], *, limit: int = 20) -> list[str]:
    """Hold audit rows (event key, kind, workflow id, run id) against the histories' effects."""
    problems: list[str] = []
    keys: set[str] = set()
    for key, kind, wid, rid in rows:
        keys.add(key)
        if wid == CLI_WORKFLOW:
            continue  # scores entered from the command line: no workflow made them, the chain holds them
        if (wid, rid) not in found.runs:
            problems.append(f"audit row {key} ({kind}) names workflow {wid} run {rid}, which is in no history")
        elif traced(kind) and key not in found.keys:
            problems.append(f"audit row {key} ({kind}) matches no activity recorded in Temporal's history")
    for key in sorted(found.keys - keys):
        problems.append(f"Temporal recorded {key}, but the audit trail has no row for it")
    return problems[:limit]


@dataclass
class Verdict:
    """What `duban audit verify` found: holds only if every check held."""

    chain: ChainReport
    histories: int = 0
    replay: ReplayReport = field(default_factory=ReplayReport)
    cross: list[str] = field(default_factory=list)
    effects: int = 0
    missing_histories: str | None = None
    # A subset of the campaign's histories (one unit's, say): the audit rows of the workflows not
    # given could not be held against Temporal's record, and are counted here, not hidden.
    subset: bool = False
    unchecked_rows: int = 0
    not_given: int = 0
    # A campaign still running writes rows while its histories are fetched: rows no history yet
    # shows (an activity in flight, a run begun since) are counted here, not called broken. So
    # are, once it has closed, the rows of its workflows still running (open 责令整改 orders).
    running: bool = False
    in_flight: int = 0
    # Histories in the folder given that belong to other campaigns: set aside, not replayed.
    foreign: int = 0

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.replay.failures and not self.cross and self.missing_histories is None

    def problems(self) -> list[str]:
        out = [f"chain: {p}" for p in self.chain.problems]
        out += [f"replay: {p}" for p in self.replay.failures]
        out += [f"cross-check: {p}" for p in self.cross]
        if self.missing_histories:
            out.append(f"histories: {self.missing_histories}")
        return out
