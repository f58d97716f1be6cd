"""A rule set installed on a running campaign: refused when it cannot run, applied to future
firings only when it can, on the record, and the campaign's history still replays and verifies.

The mini campaign (2 towns × 3 tasks, 基础型 due 2021-12-31; `west` never answers) launches on the
basic rules; on 2021-12-01 the office installs a rule set that adds a reminder 5 working days
before the due date, a chase for work not signed for within 5 working days of assignment (a
date long past: it must not fire), and a third rung to the convener 10 working days late.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities import history, rulebook
from activities.store.tables import audit_events
from models.payloads import InstallRules, RulesInstalled
from models.ruleset import RuleSet
from models.time import CST
from rules.loading import SourceError, parse_ruleset, parse_yaml
from services.audit import verify_campaign
from tests.integration import mini
from worker import build_worker

pytestmark = pytest.mark.integration

BASIC = mini.BASIC_RULES.read_text(encoding="utf-8")
EXTRA = """
  - id: remind-week-before
    description: 到期前5个工作日先行提醒
    trigger: {kind: before_due, working_days: 5}
    when: state != "completed"
    action: {kind: remind, to: unit}

  - id: chase-acknowledgement
    description: 交办5个工作日未签收（安装时早已过期：不得补发）
    trigger: {kind: not_acknowledged, working_days: 5}
    action: {kind: remind, to: unit}

  - id: escalate-to-convener
    description: 逾期10个工作日仍未办结，报召集人
    trigger: {kind: after_due, working_days: 10}
    when: state != "completed" && escalation_level >= 2
    action: {kind: escalate, to: convener, level: 3}
"""
NEW = BASIC.replace("version: 1", "version: 2", 1).replace("\nmonthly:", EXTRA + "\nmonthly:", 1)

BAD = {
    "condition does not parse": NEW.replace('when: state != "completed" && escalation_level >= 2', "when: state !="),
    "unknown fact 'escalation'": NEW.replace("escalation_level >= 2", "escalation >= 2"),
    "has no milestone 'model'": NEW.replace(
        "trigger: {kind: not_acknowledged, working_days: 5}", "trigger: {kind: milestone, milestone: model}"
    ),
    "the escalation ladder has a cycle": NEW.replace(
        "action: {kind: escalate, to: convener, level: 3}", "action: {kind: escalate, to: lead, level: 3}"
    ),
    "trigger.kind: Input should be": NEW.replace("{kind: not_acknowledged,", "{kind: fortnightly,"),
    "already in force": BASIC,
}
NEW_DATA = parse_yaml(NEW, path="new.yaml")[0]
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


async def test_install_refuses_what_cannot_run_and_applies_the_rest_to_future_firings(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    assert NEW.count("- id: ") == BASIC.count("- id: ") + 3
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid = inp.context.campaign_id
    clock = inp.context.clock
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        handle = await mini.start(env.client, inp, queue)
        # Let plan time run to 2021-12-01 09:30 (the time-skipping server skips while we sleep).
        install_at = datetime(2021, 12, 1, 9, 30, tzinfo=CST)
        await env.sleep(clock.server_time(install_at) - await env.get_current_time())

        # Straight through a Temporal client, as a raw client would: the rule set as data (the
        # service sends it read and checked), refused by the validator; YAML text refused unread.
        # A rule set the model refuses (a cycle, an unknown trigger) is refused as it is decoded.
        for needle, text in {**BAD, "not YAML text": BOMB}.items():
            data, _ = parse_yaml(text, path="new.yaml") if text is not BOMB else ({}, {})
            arg: Any = {"ruleset": data, "path": "new.yaml"} if data else InstallRules(text=text, path="new.yaml")
            try:
                RuleSet.model_validate(data or NEW_DATA)
            except ValidationError:
                with pytest.raises(SourceError, match=re.escape(needle)):
                    parse_ruleset(text, path="new.yaml")  # what `duban rules install` says
                needle = "Failed decoding arguments"
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update("install_rules", arg)
            assert needle in str(getattr(refused.value.cause, "message", refused.value)), needle

        async with engine.connect() as conn:
            kinds = (await conn.execute(select(audit_events.c.kind).where(audit_events.c.campaign_id == cid))).all()
        assert ("rules.installed",) not in kinds  # nothing of the refused ones reached the record

        done: RulesInstalled = await handle.execute_update(
            "install_rules",
            InstallRules(ruleset=parse_ruleset(NEW, path="new.yaml"), path="new.yaml", actor="office"),
            result_type=RulesInstalled,
        )
        assert done.version == 2 and done.previous_hash == inp.context.ruleset_hash
        assert abs(done.since - install_at) < timedelta(hours=1)

        # While it runs: what the new rules will do next for west's overdue-to-be task.
        west = f"{cid}/rollout/west/T01-basic"
        async with engine.connect() as conn:
            ex = rulebook.explain_obligation(await rulebook.load(conn, cid, obligation_id=west), west)
        upcoming = {(n["on"], n["rule"]): n["would_fire"] for n in ex["next"]}
        assert upcoming[("2021-12-24", "remind-week-before")] is True
        assert upcoming[("2022-01-04", "escalate-to-lead")] is True
        assert not any(rule == "chase-acknowledgement" for _, rule in upcoming)
        await handle.result()

    got = await mini.deliveries(engine, cid)
    expected = mini.expected_deliveries(cid)
    for no in mini.TASKS:
        ob = f"{cid}/rollout/west/T{no:02d}-basic"
        expected += [
            ("2021-12-24 09:00", "reminder", "west", ob, "remind-week-before", 0),
            ("2022-01-17 09:00", "escalation", "convener", ob, "escalate-to-convener", 3),
        ]
    # Future firings only: the acknowledgement chase (due in May) never fired for anyone.
    assert got == sorted(expected)

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    audit_events.c.kind, audit_events.c.ruleset_hash, audit_events.c.payload, audit_events.c.plan_time
                )
                .where(audit_events.c.campaign_id == cid)
                .order_by(audit_events.c.seq)
            )
        ).all()
        installed = [json.loads(r.payload) for r in rows if r.kind == "rules.installed"]
        assert [(i["version"], i["previous_hash"], i["hash"]) for i in installed] == [
            (2, inp.context.ruleset_hash, done.ruleset_hash)
        ]
        # Every action after the installation names the rule set it was taken under.
        after = {r.ruleset_hash for r in rows if r.kind in ("reminder", "escalation") and r.plan_time > done.since}
        assert after == {done.ruleset_hash}
        # The whole record holds: chain, replay of every history (signals and the Update
        # included) through the current code, and each effect in both.
        histories = await history.collect(env.client, [cid])
        verdict = await verify_campaign(conn, cid, histories=histories)
    assert verdict.ok, verdict.problems()
    if out := os.environ.get("DUBAN_SAVE_HISTORIES"):
        history.save(histories, Path(out))
