"""A province (issue 16): the 随县 plan multiplied to 1,000 towns expands without rebuilding
its unit directory per obligation, into the same obligations as the county plan's shape."""

from __future__ import annotations

from typing import Any

import pytest
from unit_support import DIRECTORY_PATH, PLAN_PATH

import models.plan
from models.plan import LOCAL_UNITS, PhaseKind, Plan, Unit, UnitDirectory
from rules.loading import parse_yaml
from rules.obligations import expand, units_by_phase
from rules.province import multiply


def province(towns: int) -> Plan:
    plan, _ = parse_yaml(PLAN_PATH.read_text(encoding="utf-8"), path=str(PLAN_PATH))
    directory, _ = parse_yaml(DIRECTORY_PATH.read_text(encoding="utf-8"), path=str(DIRECTORY_PATH))
    p, d = multiply(plan, directory, towns=towns)
    return Plan.model_validate({**p, "directory": d})


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each time a directory's units are indexed by id, or a whole copy of the index is asked for."""
    calls: list[int] = []
    index, by_id = models.plan.index_units, UnitDirectory.by_id

    def counted_index(units: tuple[Unit, ...]) -> Any:
        calls.append(len(units))
        return index(units)

    def counted_by_id(self: UnitDirectory) -> dict[str, Unit]:
        calls.append(len(self.units))
        return by_id(self)

    monkeypatch.setattr(models.plan, "index_units", counted_index)
    monkeypatch.setattr(UnitDirectory, "by_id", counted_by_id)
    return calls


def test_a_thousand_towns_expand_with_a_bounded_number_of_directory_builds(builds: list[int]) -> None:
    plan = province(1000)
    validated = len(builds)
    obligations = expand(plan, "p")
    # 1,000 towns × (1 duty + 15 tasks × 2 milestones), and the agencies' own: 31,118 lookups
    # of a unit by id, from one index.
    assert len(obligations) > 31_000
    assert len(builds) - validated <= 1
    assert validated <= 2


def test_the_province_owes_what_each_county_town_owes() -> None:
    plan = province(1000)
    assert len(plan.units_in_scope()) == 1000
    counties = {u.id.split("-")[0] for u in plan.units_in_scope()}
    assert len(counties) == 100
    obligations = expand(plan, "p")
    by_unit: dict[str, list[str]] = {}
    for o in obligations:
        by_unit.setdefault(o.unit_id, []).append(o.id.split("/")[-1])
    # Every copy of 高城镇 owes exactly what 高城镇 owes in the county plan.
    county = province(10)
    original = [o.id.split("/")[-1] for o in expand(county, "p") if o.unit_id == "c001-gaocheng"]
    assert original
    copies = [u for u in by_unit if u.endswith("-gaocheng")]
    assert len(copies) == 100
    assert all(by_unit[u] == original for u in copies)
    phases = units_by_phase(obligations)
    assert all(len(units) == len(set(units)) for units in phases.values())
    towns = [u.id for u in plan.units_in_scope()]
    assert [u for u in phases[PhaseKind.rollout] if u in set(towns)] == towns


def test_a_copied_directory_is_looked_up_in_its_own_units(plan: Plan) -> None:
    # The index is cached on the model: a model_copy with other units must not use the old one.
    assert plan.unit("gaocheng").name == "高城镇"
    renamed = tuple(u.model_copy(update={"name": "新" + u.name}) for u in plan.directory.units)
    other = plan.model_copy(update={"directory": plan.directory.model_copy(update={"units": renamed})})
    assert other.unit("gaocheng").name == "新高城镇"
    assert plan.unit("gaocheng").name == "高城镇"
    assert other == plan.model_copy(update={"directory": UnitDirectory.model_validate(other.directory.model_dump())})
    assert LOCAL_UNITS not in other.expand((LOCAL_UNITS,))
