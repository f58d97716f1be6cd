"""Workflow histories read from files, as an auditor brings them.

An auditor's histories come from `duban demo --out`, `duban audit export`, or Temporal's own
`temporal workflow show --output json`, renamed or not. So the workflow id and run id are read
from the history itself, never trusted from the file name:
- the run id is the start event's `originalExecutionRunId`;
- the workflow id is the start event's `workflowId` (servers since 2024 write it); else the parent
  history's "child started" event that names this run, or a child's start naming it as its
  parent; else the run this one continued from; else, for the one root workflow (no parent) of
  its type that nothing names, the id the caller knows for its type (the campaign's id for the
  campaign workflow); else, for the files `save` writes (`<id with / as __>__<run id>.json`), the
  name, but only when its run id matches the history's.
A file that is not a history, or whose workflow id nothing tells, is named in the refusal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

# A history file larger than this is not something an export or a rehearsal writes (the largest
# history Temporal allows is ~50 MB of events); refuse it rather than read it into memory.
MAX_HISTORY_BYTES = 256 * 1024 * 1024


class HistoryFileError(ValueError):
    """A file given as a history that cannot be read as one; the message names the file."""


@dataclass
class _Parsed:
    path: Path
    events: list[Any]
    run_id: str
    workflow_id: str | None
    continued_from: str | None
    workflow_type: str
    has_parent: bool
    parent: tuple[str, str] | None = None  # (workflow id, run id) of the parent, as the child's start names it


@dataclass
class Loaded:
    """The histories read, and what they reference that was not given."""

    histories: list[WorkflowHistory] = field(default_factory=list)
    # (workflow id, run id) of children and continued-as-new runs named in the histories given
    # but not among them: the set is a subset of the campaign's tree when this is not empty.
    not_given: list[tuple[str, str]] = field(default_factory=list)


def history_paths(where: Path) -> list[Path]:
    """A folder's `*.json` files (sorted), or one file."""
    if where.is_dir():
        return sorted(p for p in where.glob("*.json") if p.is_file())
    if where.is_file():
        return [where]
    raise HistoryFileError(f"{where}: no such file or folder")


def _parse(path: Path) -> _Parsed:
    if path.stat().st_size > MAX_HISTORY_BYTES:
        raise HistoryFileError(f"{path}: larger than {MAX_HISTORY_BYTES // 2**20} MB, not a workflow history")
    try:
        raw = json.loads(path.read_bytes())
        h = WorkflowHistory.from_json("", raw)
    except Exception as e:  # json, protobuf and shape errors alike: the file is not a history
        raise HistoryFileError(f"{path}: not a workflow history ({type(e).__name__}: {e})") from None
    if not h.events or not h.events[0].HasField("workflow_execution_started_event_attributes"):
        raise HistoryFileError(f"{path}: not a workflow history (its first event is not the workflow's start)")
    start = h.events[0].workflow_execution_started_event_attributes
    return _Parsed(
        path=path,
        events=list(h.events),
        run_id=start.original_execution_run_id,
        workflow_id=start.workflow_id or None,
        continued_from=start.continued_execution_run_id or None,
        workflow_type=start.workflow_type.name,
        has_parent=start.HasField("parent_workflow_execution"),
        parent=(start.parent_workflow_execution.workflow_id, start.parent_workflow_execution.run_id)
        if start.HasField("parent_workflow_execution")
        else None,
    )


def _named_in_file(p: _Parsed) -> str | None:
    stem = p.path.name.removesuffix(".json")
    head, sep, run = stem.rpartition("__")
    if sep and run == p.run_id and head:
        return head.replace("__", "/")
    return None


def _references(p: _Parsed) -> list[tuple[str, str]]:
    """(workflow id, run id) of the children this run started; its successor, when it continued."""
    out = []
    for e in p.events:
        if e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            ex = e.child_workflow_execution_started_event_attributes.workflow_execution
            out.append((ex.workflow_id, ex.run_id))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run = e.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            out.append(("", run))  # same workflow id as this run: filled in below
    return out


def load_histories(where: Path, *, roots: dict[str, str] | None = None) -> Loaded:
    """Read every history in `where` (a folder or one file), each with its id and run id;
    `roots` maps a root workflow's type to its id, for histories that do not name themselves."""
    parsed = [_parse(p) for p in history_paths(where)]
    if not parsed:
        raise HistoryFileError(f"{where}: no workflow history (*.json) in it")
    by_run: dict[str, str] = {}
    for p in parsed:
        if p.workflow_id:
            by_run[p.run_id] = p.workflow_id
        for wid, run in _references(p):
            if wid:
                by_run.setdefault(run, wid)
        if p.parent is not None and p.parent[0]:  # a child names its parent's run
            by_run.setdefault(p.parent[1], p.parent[0])
    # A root no other history names takes the id the caller knows for its type, but only when it
    # is the one such root of its type: a folder holding two campaigns' roots says nothing here
    # of which is which (their file names may).
    unnamed: dict[str, list[_Parsed]] = {}
    for p in parsed:
        if p.run_id not in by_run and not p.has_parent and not p.continued_from and p.workflow_type in (roots or {}):
            unnamed.setdefault(p.workflow_type, []).append(p)
    for kind, found in unnamed.items():
        if len(found) == 1:
            by_run[found[0].run_id] = (roots or {})[kind]
    # Continued-as-new runs take their predecessor's id; a chain may need several passes.
    changed = True
    while changed:
        changed = False
        for p in parsed:
            if p.run_id not in by_run and p.continued_from and p.continued_from in by_run:
                by_run[p.run_id] = by_run[p.continued_from]
                changed = True
    out = Loaded()
    given: set[tuple[str, str]] = set()
    for p in parsed:
        name = by_run.get(p.run_id) or _named_in_file(p)
        if name is None:
            raise HistoryFileError(
                f"{p.path}: the history does not name its workflow id (a server before 2024 wrote it "
                "without one) and neither its parent's history nor the file name "
                "('<workflow id>__<run id>.json') does"
            )
        by_run[p.run_id] = name
        given.add((name, p.run_id))
        out.histories.append(WorkflowHistory(name, p.events))
    for p in parsed:
        for wid, run in _references(p):
            ref = (wid or by_run[p.run_id], run)
            if ref not in given and ref not in out.not_given:
                out.not_given.append(ref)
    return out
