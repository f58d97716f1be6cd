"""`duban rules whatif` and `rules explain` on a finished campaign, read from PostgreSQL alone
(the rehearsal's Temporal server is gone, as it is after `duban demo`)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration import mini

pytestmark = pytest.mark.integration

RULESETS = mini.ROOT / "rules" / "rulesets"


@pytest.fixture(scope="module")
async def campaign(db_url: str) -> AsyncIterator[str]:
    async with mini.rehearsed(db_url) as r:
        yield r.campaign_id


def run(db_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    r = mini.duban(*args, db_url=db_url, var_dir=tmp_path / "var")
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, r.stdout, r.stderr


async def test_whatif_under_the_campaign_own_rules_changes_nothing(db_url: str, campaign: str, tmp_path: Path) -> None:
    code, out, err = run(db_url, tmp_path, "rules", "whatif", campaign, str(RULESETS / "suixian-basic.yaml"))
    assert code == 0, err
    assert "0 of 9 obligations would differ" in out
    assert re.search(r"reminders +3 → 3 +same", out), out


async def test_whatif_under_the_default_rules_shows_each_difference(db_url: str, campaign: str, tmp_path: Path) -> None:
    code, out, err = run(
        db_url, tmp_path, "rules", "whatif", campaign, str(RULESETS / "suixian-default.yaml"), "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    # Only west never answered: everyone else signed on 2021-05-10 and finished in November.
    assert result["changed"] == 3
    west = next(d for d in result["differences"] if d["obligation_id"].endswith("/west/T01-basic"))
    added = {(x["on"], x["rule"]) for x in west["would_happen"]}
    assert {("2021-05-12", "remind-to-acknowledge"), ("2022-01-24", "escalate-to-convener")} <= added
    assert ("2022-01-06", "list-in-bulletin") in added
    assert west["would_not_happen"] == [] and west["would_move"] == []
    assert result["after"]["escalate"] == result["before"]["escalate"] + 3  # one convener rung each


async def test_explain_gives_each_action_its_rule_and_what_it_saw(db_url: str, campaign: str, tmp_path: Path) -> None:
    ob = f"{campaign}/rollout/west/T01-basic"
    code, out, err = run(db_url, tmp_path, "rules", "explain", ob)
    assert code == 0, err
    assert "2022-01-04 督办 L1 → lead  by rule escalate-to-lead「逾期1个工作日，向牵头单位督办」" in out
    assert 'when 1 working day after the due date, if state != "completed": saw state=assigned' in out
    assert "the campaign is closed: nothing further is due" in out
    code, out, err = run(db_url, tmp_path, "rules", "explain", f"{campaign}/rollout/west/T09-basic")
    assert code == 1 and "has no obligation" in err
    code, out, err = run(db_url, tmp_path, "rules", "whatif", "no-such-campaign", str(RULESETS / "suixian-basic.yaml"))
    assert code == 1 and "no campaign 'no-such-campaign' on record" in err
