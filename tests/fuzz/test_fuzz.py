"""Every door a user hands us something through, fuzzed on a small budget: 0 tracebacks, 0 hangs,
every refusal naming its place (the harness's `refusal_problem`). `scripts/fuzz --minutes N`
runs the same for longer; its figures are in docs/RELIABILITY.md ("Hostile input")."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.loading import SourceError, parse_plan, parse_ruleset, parse_yaml
from tests.fuzz.harness import SEEDS, Doors, mutate, refusal_problem, run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def test_every_door_under_the_blind_mutator() -> None:
    tally = run(seconds=18, seed=15)
    assert sum(tally.cases.values()) > 300
    assert not tally.findings, "\n".join(f"{f.door}: {f.kind}: {f.detail}" for f in tally.findings[:5])
    # The mutants are not all refused: some still read (the mutator does not just break files).
    assert any(tally.refused[d] < n for d, n in tally.cases.items())


def test_the_harness_sees_a_traceback_and_a_missing_place() -> None:
    assert refusal_problem("plan", KeyError("x")) == "traceback"
    assert refusal_problem("plan", SourceError("p.yaml", 0, "x")) is not None
    assert refusal_problem("plan", SourceError("p.yaml", 3, "x")) is None


def _check(fn: object, *args: object, **kw: object) -> None:
    try:
        fn(*args, **kw)  # type: ignore[operator]
    except SourceError as e:
        assert e.line >= 1 and e.path


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_any_text_as_yaml(text: str) -> None:
    _check(parse_yaml, text, path="x.yaml")


_YAML_ALPHABET = string.ascii_letters[:6] + string.digits[:3] + " :-[]{}&*!|>'\"#\n?,."


@FAST
@given(st.text(alphabet=_YAML_ALPHABET, max_size=300))
def test_yaml_shaped_text_as_a_plan_and_a_rule_set(text: str) -> None:
    _check(parse_plan, text, path="p.yaml")
    _check(parse_ruleset, text, path="r.yaml")


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.dates()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@settings(FAST, max_examples=60)
@given(st.data())
def test_shipped_files_with_a_value_replaced(data: st.DataObject) -> None:
    """Structure-aware: a shipped plan or rule set with one mapping value swapped for any value."""
    path = data.draw(st.sampled_from([*SEEDS["plan"][:1], *SEEDS["ruleset"]]))
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    keys = data.draw(st.lists(st.sampled_from(sorted(doc)), min_size=1, max_size=3, unique=True))
    for k in keys:
        doc[k] = data.draw(_values)
    text = yaml.safe_dump(doc, allow_unicode=True)
    if "rules" in path.name or path.parent.name == "rulesets":
        _check(parse_ruleset, text, path="r.yaml")
    else:
        _check(parse_plan, text, path="p.yaml")


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> Doors:
    return Doors(Path(tmp_path_factory.mktemp("doors")))


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=2000), st.randoms(use_true_random=False))
def test_any_bytes_and_mutated_workbooks(doors: Doors, blob: bytes, rnd: object) -> None:
    import random

    rng = random.Random(str(rnd))
    for sample in (blob, mutate(doors.workbook, rng, [doors.workbook]), doors.workbook_part(doors.workbook, rng)):
        try:
            doors.workbook_bytes(sample)
        except Exception as e:
            assert refusal_problem("workbook", e) is None, e
