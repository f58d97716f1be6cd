"""Reading plan, unit-directory and rule-set files: YAML text in, validated models out.

Every problem comes out as a SourceError that names the file and the line, so the CLI can print
`FILE:LINE: message` and never a traceback. Pure: the caller reads the files and passes text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from models.open_fields import OpenField
from models.plan import Plan, UnitDirectory
from models.ruleset import RuleSet
from rules.bounded_yaml import Bound, BoundedComposer, Budget, precheck

M = TypeVar("M", bound=BaseModel)
Path = tuple[str | int, ...]


class SourceError(Exception):
    """A problem in a source file, at a line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class _Loader(BoundedComposer, yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans (`no:` is a key named "no", not False), within bounds."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, *, path: str) -> tuple[Any, dict[Path, int]]:
    """Parse YAML, returning the data and the line (1-based) of every mapping value and item.

    Within `rules.bounded_yaml`'s bounds (size, unreadable characters, aliases, nesting, what
    aliases expand to): anything else is a SourceError at its line, never a hang or a crash.
    """
    try:
        precheck(text)
    except Bound as e:
        raise SourceError(path, e.line, e.message) from None
    try:
        loader = _Loader(text)  # the reader checks the first characters already
    except yaml.YAMLError as e:
        raise SourceError(path, 1, f"YAML error: {e}") from None
    try:
        node = loader.get_single_node()
    except Bound as e:
        raise SourceError(path, e.line, e.message) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise SourceError(path, line, f"YAML syntax error: {e.problem or e}") from None
    except yaml.YAMLError as e:  # a ReaderError: a character the pre-check let through
        raise SourceError(path, 1, f"YAML error: {e}") from None
    finally:
        loader.dispose()
    if node is None:
        raise SourceError(path, 1, "the file is empty")
    lines: dict[Path, int] = {}
    budget = Budget(loader.nodes)

    def build(n: yaml.Node, at: Path) -> Any:
        budget.spend(n)
        lines[at] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for k, v in n.value:
                if not isinstance(k, yaml.ScalarNode):  # a list or mapping as a key: nothing we read
                    raise SourceError(path, k.start_mark.line + 1, "a key must be a plain value")
                key = scalar(k)
                if key in out:
                    raise SourceError(path, k.start_mark.line + 1, f"duplicate key {key!r}")
                out[key] = build(v, (*at, key))
                lines[(*at, key)] = k.start_mark.line + 1
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, (*at, i)) for i, v in enumerate(n.value)]
        return scalar(n)

    def scalar(n: yaml.Node) -> Any:
        try:
            return loader.construct_object(n, deep=True)
        except (yaml.constructor.ConstructorError, ValueError, OverflowError, TypeError) as e:
            raise SourceError(path, n.start_mark.line + 1, f"bad value {n.value!r}: {e}") from None

    try:
        return build(node, ()), lines
    except Bound as e:
        raise SourceError(path, e.line, e.message) from None


def _line_of(lines: dict[Path, int], loc: Path) -> int:
    for i in range(len(loc), -1, -1):
        if loc[:i] in lines:
            return lines[loc[:i]]
    return 1


def _message(err: Any) -> str:
    loc = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def validate(
    model: type[M],
    data: Any,
    *,
    path: str,
    lines: dict[Path, int],
    locate: Callable[[str], Path] | None = None,
) -> M:
    """Validate data into a model; the first error becomes a SourceError at its line.

    Model-level errors (a duplicate task number, an unknown unit) carry no location of their
    own: `locate` finds the line from the message where it can.
    """
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        first = errors[0]
        loc: Path = tuple(first["loc"])
        # A validator's own error is located at the model it checked; `locate` can often narrow
        # it to the offending value (a phase's end date, a milestone's due date).
        if locate is not None and (not loc or first["type"] == "value_error"):
            loc = locate(str(first["msg"])) or loc
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SourceError(path, _line_of(lines, loc), _message(first) + more) from None


def _plan_locator(data: dict[str, Any]) -> Callable[[str], Path]:
    """Find where a plan-level validation message points, by the task, unit or phase it names."""

    def locate(msg: str) -> Path:
        # An open field's problem names its place: "tasks.3.lead: …".
        at = re.match(r"([a-z_]+(?:\.(?:[a-z_]+|\d+))*): ", msg.removeprefix("Value error, "))
        if at and at[1].split(".")[0] in data:
            return tuple(int(p) if p.isdigit() else p for p in at[1].split("."))
        raw = data.get("tasks")
        tasks: list[Any] = raw if isinstance(raw, list) else []
        if m := re.search(r"duplicate task number (\d+)", msg):
            hits = [i for i, t in enumerate(tasks) if isinstance(t, dict) and str(t.get("no")) == m[1]]
            return ("tasks", hits[-1], "no") if hits else ("tasks",)
        if m := re.search(r"task (\d+): unknown (unit|category) '?([^']*)'?", msg):
            for i, t in enumerate(tasks):
                if isinstance(t, dict) and str(t.get("no")) == m[1]:
                    if m[2] == "category":
                        return ("tasks", i, "category")
                    if t.get("lead") == m[3]:
                        return ("tasks", i, "lead")
                    resp = t.get("responsible") or []
                    return ("tasks", i, "responsible", resp.index(m[3])) if m[3] in resp else ("tasks", i)
        if m := re.search(r"joint meeting: unknown unit '([^']*)'", msg):
            jm = data.get("joint_meeting") or {}
            for k in ("convener", "office"):
                if jm.get(k) == m[1]:
                    return ("joint_meeting", k)
        raw = data.get("phases")
        phases = [p if isinstance(p, dict) else {} for p in raw] if isinstance(raw, list) else []
        if m := re.search(r"milestone (\w+) due \S+ is outside phase (\w+)", msg):
            for i, p in enumerate(phases):
                if p.get("name") == m[2]:
                    ms = p.get("milestones") or []
                    hits = [j for j, x in enumerate(ms) if isinstance(x, dict) and x.get("id") == m[1]]
                    return ("phases", i, "milestones", hits[0], "due") if hits else ("phases", i)
        if m := re.search(r"phase (\w+) ends", msg):
            for i, p in enumerate(phases):
                if p.get("name") == m[1]:
                    return ("phases", i, "end")
        if m := re.search(r"phase (\w+)", msg):
            for i, p in enumerate(phases):
                if p.get("name") == m[1]:
                    return ("phases", i)
        return ()

    return locate


def parse_directory(text: str, *, path: str) -> UnitDirectory:
    data, lines = parse_yaml(text, path=path)
    return validate(UnitDirectory, data, path=path, lines=lines)


def parse_plan(text: str, *, path: str, directory: UnitDirectory | None = None) -> Plan:
    """Parse a plan file. `directory` replaces the file's `directory:` reference when given."""
    data, lines = parse_yaml(text, path=path)
    if not isinstance(data, dict):
        raise SourceError(path, 1, "a plan file is a mapping (id, title, tasks, phases, …)")
    if directory is not None:
        data = {**data, "directory": directory.model_dump(mode="python")}
    return validate(Plan, data, path=path, lines=lines, locate=_plan_locator(data))


def open_field_lines(plan: Plan, text: str, *, path: str) -> list[tuple[int, OpenField]]:
    """The plan's fields left to fill in, each with its line in the plan file, in file order."""
    if not plan.open_fields:
        return []
    _, lines = parse_yaml(text, path=path)
    return sorted(((_line_of(lines, f.at), f) for f in plan.open_fields), key=lambda x: x[0])


def directory_reference(text: str, *, path: str) -> tuple[str, int]:
    """The plan's `directory:` file name and its line, to be read by the caller."""
    data, lines = parse_yaml(text, path=path)
    if not isinstance(data, dict):
        raise SourceError(path, 1, "a plan file is a mapping (id, title, directory, tasks, phases, …)")
    ref = data.get("directory")
    if not isinstance(ref, str):
        line = lines.get(("directory",), 1)
        raise SourceError(path, line, "directory: must name the unit directory file (e.g. units/suixian.yaml)")
    return ref, lines[("directory",)]


def parse_ruleset(text: str, *, path: str, plan: Plan | None = None) -> RuleSet:
    """Parse a rule set and prove it can run: every condition compiles and type-checks against
    the facts, and (given the plan) every role and milestone it names exists in the plan."""
    from rules.engine import RuleError  # engine imports us not

    data, lines = parse_yaml(text, path=path)
    if not isinstance(data, dict):
        raise SourceError(path, 1, "a rule set is a mapping (id, version, rules, …)")
    raw = data.get("rules")
    rules: list[Any] = raw if isinstance(raw, list) else []

    def index_of(rule_id: str) -> int | None:
        hits = [i for i, r in enumerate(rules) if isinstance(r, dict) and r.get("id") == rule_id]
        return hits[-1] if hits else None

    def locate(msg: str) -> Path:
        if m := re.search(r"duplicate rule id '([^']*)'", msg):
            i = index_of(m[1])
            return ("rules", i, "id") if i is not None else ("rules",)
        if m := re.match(r"(?:Value error, )?rule (\S+): ", msg):
            i = index_of(m[1])
            return ("rules", i, "action") if i is not None else ("rules",)
        if "ladder" in msg:
            return ("ladder",)
        return ()

    ruleset = validate(RuleSet, data, path=path, lines=lines, locate=locate)
    try:
        proven(ruleset, plan)
    except RuleError as e:
        i = index_of(e.rule_id)
        at: Path = ("rules", i, e.part) if i is not None else ("rules",)
        if e.part == "trigger" and i is not None:
            at = ("rules", i, "trigger", "milestone")
        elif e.part == "action" and i is not None:
            at = ("rules", i, "action", "to")
        raise SourceError(path, _line_of(lines, at), str(e)) from None
    return ruleset


def proven(ruleset: RuleSet, plan: Plan | None) -> None:
    """Prove a rule set (already read) can run: every condition compiles and type-checks against
    the facts and, given the plan, every role and milestone it names exists there.

    Raises:
        rules.engine.RuleError: naming the rule and the part that is wrong.
    """
    from rules.engine import check_against_plan, compile_condition

    for r in ruleset.rules:
        compile_condition(r)
    if plan is not None:
        check_against_plan(ruleset, plan)
