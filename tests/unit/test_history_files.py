"""Histories as an auditor brings them: ids read from the history, never from the file name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from activities.history_files import HistoryFileError, load_histories

# Written by `temporal workflow show --output json` against the dev server (a parent that starts
# one child, `p1/child`), so the test reads exactly what Temporal's own CLI writes.
CLI = Path(__file__).parent.parent / "fixtures" / "histories-cli"


def test_ids_come_from_temporal_cli_exports_whatever_their_names(tmp_path: Path) -> None:
    shutil.copy(CLI / "parent.json", tmp_path / "export-1.json")
    shutil.copy(CLI / "child.json", tmp_path / "x.json")
    loaded = load_histories(tmp_path)
    assert sorted(h.workflow_id for h in loaded.histories) == ["p1", "p1/child"]
    assert loaded.not_given == []


def test_a_lone_child_is_a_subset_naming_nothing_missing_below_it(tmp_path: Path) -> None:
    shutil.copy(CLI / "child.json", tmp_path / "child.json")
    loaded = load_histories(tmp_path / "child.json")
    assert [h.workflow_id for h in loaded.histories] == ["p1/child"]
    only_parent = load_histories(CLI / "parent.json")
    assert [wid for wid, _ in only_parent.not_given] == ["p1/child"]


def _without_workflow_id(src: Path, dst: Path) -> None:
    # As the time-skipping server and servers before 2024 write them: no workflowId in the start.
    doc = json.loads(src.read_text())
    doc["events"][0]["workflowExecutionStartedEventAttributes"].pop("workflowId")
    dst.write_text(json.dumps(doc))


def test_without_an_id_in_the_start_the_parent_names_the_child(tmp_path: Path) -> None:
    shutil.copy(CLI / "parent.json", tmp_path / "a.json")
    _without_workflow_id(CLI / "child.json", tmp_path / "b.json")
    assert sorted(h.workflow_id for h in load_histories(tmp_path).histories) == ["p1", "p1/child"]


def test_a_history_nothing_names_is_refused_with_its_file(tmp_path: Path) -> None:
    _without_workflow_id(CLI / "parent.json", tmp_path / "renamed.json")
    with pytest.raises(HistoryFileError, match=r"renamed\.json: the history does not name its workflow id"):
        load_histories(tmp_path)


def test_the_file_name_counts_only_when_its_run_id_is_the_historys(tmp_path: Path) -> None:
    run = json.loads((CLI / "parent.json").read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
        "originalExecutionRunId"
    ]
    _without_workflow_id(CLI / "parent.json", tmp_path / f"camp__east__{run}.json")
    assert [h.workflow_id for h in load_histories(tmp_path).histories] == ["camp/east"]
    (tmp_path / f"camp__east__{run}.json").rename(tmp_path / "camp__east__00000000-0000.json")
    with pytest.raises(HistoryFileError):
        load_histories(tmp_path)


@pytest.mark.parametrize(
    "content", [b"", b"{", b"[]", b'{"events": []}', b'{"events": [{"eventId": "1"}]}', b"\x00\xff", b'{"a": 1}']
)
def test_what_is_not_a_history_is_named(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.json").write_bytes(content)
    with pytest.raises(HistoryFileError, match=r"bad\.json"):
        load_histories(tmp_path)


def test_an_empty_folder_and_a_missing_path_are_named(tmp_path: Path) -> None:
    with pytest.raises(HistoryFileError, match="no workflow history"):
        load_histories(tmp_path)
    with pytest.raises(HistoryFileError, match="no such file or folder"):
        load_histories(tmp_path / "nope")


def _as_another_run(src: Path, dst: Path, run: str) -> None:
    """The same root's history as another campaign's run of it (a folder holding two)."""
    doc = json.loads(src.read_text())
    doc["events"][0]["workflowExecutionStartedEventAttributes"]["originalExecutionRunId"] = run
    dst.write_text(json.dumps(doc))


def test_a_child_naming_its_parent_names_a_root_that_does_not(tmp_path: Path) -> None:
    _without_workflow_id(CLI / "parent.json", tmp_path / "a.json")
    _without_workflow_id(CLI / "child.json", tmp_path / "b.json")
    # The parent's "child started" event names the child; the child's start names the parent.
    assert sorted(h.workflow_id for h in load_histories(tmp_path).histories) == ["p1", "p1/child"]


def test_two_roots_of_one_type_take_the_callers_id_only_by_name(tmp_path: Path) -> None:
    """A folder holding two campaigns' root histories (a rehearsal's --out reused): the id the
    caller knows for the type is given to neither; each is named by its file, or refused."""
    _without_workflow_id(CLI / "parent.json", tmp_path / "mine.json")
    _as_another_run(tmp_path / "mine.json", tmp_path / "other__root__run-2.json", "run-2")
    with pytest.raises(HistoryFileError, match=r"mine\.json"):
        load_histories(tmp_path, roots={"Parent": "mine"})
    (tmp_path / "other__root__run-2.json").unlink()
    assert [h.workflow_id for h in load_histories(tmp_path, roots={"Parent": "mine"}).histories] == ["mine"]
