"""The fault campaign: one accelerated live campaign run twice, undisturbed and under faults.

    ./scripts/faults [--plan plans/suixian-2021.yaml] [--speed 345600] [--kills 10] [--seed 1]

Each run has its own embedded PostgreSQL, its own Temporal dev server (persisted to SQLite), its
worker in a process of its own, and real SMTP and webhook receivers on 127.0.0.1; every unit is
reached by e-mail and webhook. In the faulty run, at seeded random moments: the worker is
SIGKILLed `--kills` times (and restarted), the Temporal dev server is restarted on its database,
PostgreSQL is stopped for `--pg-down` seconds, and the SMTP receiver and the webhook refuse for a
while. Afterwards the two runs are compared key by key — inbox rows (reminders, escalations,
notices, bulletins, orders), notice numbers, bulletins, rectification orders, deliveries, the
audit chain's event keys, and what the receivers got — and `audit verify` is run on both.

Loopback only; bounded by `--timeout`. The report goes to stdout and `out/faults/report.json`;
docs/RELIABILITY.md quotes it with this command. Exit 1 when anything was lost, doubled or stuck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from temporalio.client import WorkflowExecutionStatus  # noqa: E402
from temporalio.service import RPCError  # noqa: E402

from activities.config import Settings  # noqa: E402
from activities.servers import app_database, ensure_postgres, start_dev_server, stop_postgres  # noqa: E402
from activities.store.db import make_engine, upgrade  # noqa: E402
from models.delivery import delivery_id  # noqa: E402
from models.time import CST  # noqa: E402
from scripts.drill_parts import SECRET_ENV, Receivers, Worker, contacts_file, free_port  # noqa: E402


@dataclass
class Run:
    name: str
    folder: Path
    faults: list[tuple[float, str]] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    # When each fault began (server time): the delay a fault caused is judged from here.
    began: list[tuple[datetime, str]] = field(default_factory=list)
    lags: dict[str, float] = field(default_factory=dict)
    due: dict[str, datetime] = field(default_factory=dict)
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, Counter[str]] = field(default_factory=dict)


def plan_faults(rng: random.Random, span: float, kills: int) -> list[tuple[float, str]]:
    """Seeded moments (seconds after launch) for each fault, spread over the campaign's span."""
    out = [(rng.uniform(0.05, 0.9) * span, "kill-worker") for _ in range(kills)]
    out.append((rng.uniform(0.2, 0.4) * span, "restart-temporal"))
    out.append((rng.uniform(0.45, 0.6) * span, "stop-postgres"))
    out.append((rng.uniform(0.65, 0.8) * span, "refuse-receivers"))
    return sorted(out)


async def run_campaign(args: argparse.Namespace, name: str, faulty: bool) -> Run:
    from services.actors import Actor
    from services.campaigns import launch
    from services.context import Services
    from services.plans import default_rules, load_plan, load_ruleset, scorebook_for

    run = Run(name=name, folder=(args.out / name).resolve())
    if run.folder.exists():
        import shutil

        shutil.rmtree(run.folder)
    run.folder.mkdir(parents=True)
    with Receivers() as rx:
        port = free_port()
        settings = Settings(
            env="dev",
            # Embedded PostgreSQL run as root keeps its data under the project's var/ only.
            var_dir=ROOT / "var" / "drill" / name,
            temporal_port=port,
            temporal_address=f"127.0.0.1:{port}",
            contacts_file=contacts_file(run.folder, args.plan, rx.url),
            smtp_port=rx.smtp_port,
            smtp_sender="duban@drill.test",
            delivery_backoff_seconds=1.0,
            delivery_backoff_max_seconds=5.0,
            delivery_max_attempts=50,
            task_queue=f"drill-{name}",
        )
        if settings.var_dir.exists():
            import shutil

            await asyncio.to_thread(stop_postgres, settings)
            shutil.rmtree(settings.var_dir)
        settings.var_dir.mkdir(parents=True)
        admin = await asyncio.to_thread(ensure_postgres, settings)
        del admin
        db_url = await app_database(settings)
        await upgrade(db_url)
        server = await start_dev_server(settings, port=port)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": db_url,
            "TEMPORAL_ADDRESS": settings.temporal_address or "",
            "DUBAN_VAR_DIR": str(settings.var_dir),
            "DUBAN_TEMPORAL_PORT": str(port),
            "DUBAN_CONTACTS_FILE": str(settings.contacts_file),
            "DUBAN_SMTP_PORT": str(rx.smtp_port),
            "DUBAN_SMTP_SENDER": "duban@drill.test",
            "DUBAN_DELIVERY_BACKOFF_SECONDS": "1",
            "DUBAN_DELIVERY_BACKOFF_MAX_SECONDS": "5",
            "DUBAN_DELIVERY_MAX_ATTEMPTS": "50",
            "DUBAN_TASK_QUEUE": settings.task_queue,
            "DUBAN_LOG_FORMAT": "json",
            SECRET_ENV: "drill-secret",
        }
        env.pop("DUBAN_ENV", None)
        worker = Worker(env, run.folder / "worker.log")
        worker.start()
        ctx = Services(settings)
        plan = load_plan(args.plan)
        ruleset = load_ruleset(default_rules(plan), plan)
        cid = f"drill-{name}"
        launched = await launch(
            ctx,
            actor=Actor(account="cli:fault-drill", unit=plan.joint_meeting.office, role="office"),
            plan=plan,
            ruleset=ruleset,
            scorebook=scorebook_for(plan, None),
            campaign_id=cid,
            speed=args.speed,
        )
        clock = launched.clock
        end = datetime.combine(max(ph.end for ph in plan.phases), datetime.min.time(), tzinfo=CST)
        span = (clock.server_time(end) - datetime.now(UTC)).total_seconds()
        rng = random.Random(args.seed)
        run.faults = plan_faults(rng, span, args.kills) if faulty else []
        started = time.monotonic()
        client = await ctx.client(start=False)
        handle = client.get_workflow_handle(cid)
        finished = False
        pending = list(run.faults)
        deadline = started + args.timeout
        while not finished:
            now = time.monotonic() - started
            while pending and pending[0][0] <= now:
                _, what = pending.pop(0)
                run.done.append(f"{now:7.1f}s {what}")
                run.began.append((datetime.now(UTC), what))
                print(f"  [{name}] {now:7.1f}s {what}", flush=True)
                if what == "kill-worker":
                    worker.kill()
                    await asyncio.sleep(rng.uniform(0.5, 3.0))
                    worker.start()
                elif what == "restart-temporal":
                    server.stop()
                    await asyncio.sleep(2)
                    server = await start_dev_server(settings, port=port)
                elif what == "stop-postgres":
                    await asyncio.to_thread(stop_postgres, settings)
                    await asyncio.sleep(args.pg_down)
                    await asyncio.to_thread(ensure_postgres, settings)
                elif what == "refuse-receivers":
                    rx.refusing = True
                    await asyncio.sleep(args.refuse)
                    rx.refusing = False
            if worker.proc is not None and worker.proc.poll() is not None:
                tail = (run.folder / "worker.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"[{name}] the worker exited by itself:\n{tail}")
            if time.monotonic() > deadline:
                raise SystemExit(f"[{name}] the campaign did not finish within {args.timeout:g} s: a stuck workflow")
            await asyncio.sleep(1.0)
            try:  # polled, not awaited: the server this asks is itself restarted during the drill
                status = (await handle.describe()).status
            except RPCError:
                continue
            if status is not None and status != WorkflowExecutionStatus.RUNNING:
                if status != WorkflowExecutionStatus.COMPLETED:
                    raise SystemExit(f"[{name}] the campaign ended {status.name}")
                finished = True
        # The dispatch loop may still be sending the last pushes: wait until none is pending.
        engine = make_engine(db_url)
        async with engine.connect() as conn:
            for _ in range(120):  # the dispatch loop drains within its budget; 2 min is ample
                left = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM deliveries WHERE campaign_id = :c "
                            "AND status IN ('pending', 'sending')"
                        ),
                        {"c": cid},
                    )
                ).scalar_one()
                if not left:
                    break
                await asyncio.sleep(1)
                await conn.rollback()
        run.seconds = time.monotonic() - started
        run.keys, run.figures, run.lags, run.due = await collect(engine, cid, clock)
        # Receivers see a delivery's id (a digest of its key, campaign id included): name it by key.
        async with engine.connect() as conn:
            keys = (
                await conn.execute(text("SELECT idempotency_key FROM deliveries WHERE campaign_id = :c"), {"c": cid})
            ).scalars()
            by_id = {delivery_id(k): k.replace(cid, "C") for k in keys}
        run.keys["received.email"] = Counter({by_id.get(i, i): n for i, n in rx.mail.items()})
        run.keys["received.webhook"] = Counter({by_id.get(i, i): n for i, n in rx.hooks.items()})
        run.figures["receivers refused"] = rx.refused
        run.figures["worker starts"] = worker.starts
        await engine.dispose()
        from services import audit

        verdict = await audit.verify(ctx, campaign=cid)
        run.figures["audit verify"] = "holds" if verdict.ok else "; ".join(verdict.problems()[:5])
        worker.stop()
        server.stop()
        await asyncio.to_thread(stop_postgres, settings)
    return run


# The office's own alerts about pushes found uncertain after a kill exist only where there were
# faults: they are counted apart ("office alerts"), not as extra records.
QUERIES = {
    "inbox": "SELECT idempotency_key FROM inbox WHERE campaign_id = :c AND kind <> 'delivery'",
    # Numbers are handed out in the order escalations arrive, which a fault may reorder: each number
    # once and each (unit, obligation) noticed once are two separate checks.
    "notice numbers": "SELECT code FROM supervision_notices WHERE campaign_id = :c",
    "notices": "SELECT unit_id || ' ' || obligation_id FROM supervision_notices WHERE campaign_id = :c",
    "bulletins": "SELECT month::text FROM bulletins WHERE campaign_id = :c",
    "orders": "SELECT idempotency_key || ' ' || state FROM rectification_orders WHERE campaign_id = :c",
    # By key: a push in flight when its worker was killed is marked `uncertain` and told to the
    # office, never resent blindly; whether it arrived is what the receivers' counts below show.
    "deliveries": "SELECT idempotency_key FROM deliveries WHERE campaign_id = :c",
    "audit": "SELECT event_key FROM audit_events WHERE campaign_id = :c AND kind <> 'delivery.alert'",
}


async def collect(
    engine: Any, cid: str, clock: Any
) -> tuple[dict[str, Counter[str]], dict[str, Any], dict[str, float], dict[str, datetime]]:
    keys: dict[str, Counter[str]] = {}
    figures: dict[str, Any] = {}
    async with engine.connect() as conn:
        for what, q in QUERIES.items():
            rows = (await conn.execute(text(q), {"c": cid})).scalars().all()
            keys[what] = Counter(str(r).replace(cid, "C") for r in rows)
            figures[what] = len(rows)
        figures["deliveries uncertain"] = (
            await conn.execute(
                text("SELECT count(*) FROM deliveries WHERE campaign_id = :c AND status = 'uncertain'"), {"c": cid}
            )
        ).scalar_one()
        figures["office alerts"] = (
            await conn.execute(
                text("SELECT count(*) FROM inbox WHERE campaign_id = :c AND kind = 'delivery'"), {"c": cid}
            )
        ).scalar_one()
        rows = (
            await conn.execute(
                text("SELECT idempotency_key, plan_time, created_at FROM inbox WHERE campaign_id = :c"),
                {"c": cid},
            )
        ).all()
    by_key = {
        str(k).replace(cid, "C"): (created - clock.server_time(plan)).total_seconds() for k, plan, created in rows
    }
    due = {str(k).replace(cid, "C"): clock.server_time(plan) for k, plan, _ in rows}
    lags = sorted(by_key.values())
    if lags:
        figures["lag p50 s"] = round(lags[len(lags) // 2], 2)
        figures["lag max s"] = round(lags[-1], 2)
    return keys, figures, by_key, due


def delays(calm: Run, faulty: Run, speed: int) -> list[dict[str, Any]]:
    """Per fault, the worst delay it caused: of the inbox rows that fell due while it was the latest
    fault, the largest lag beyond the same row's lag in the undisturbed run (seconds and plan days)."""
    out = []
    marks = sorted(faulty.began)
    for i, (start, what) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else datetime.max.replace(tzinfo=UTC)
        extra = sorted(
            (faulty.lags[k] - calm.lags[k], k) for k, d in faulty.due.items() if start <= d < end and k in calm.lags
        )
        if not extra:
            out.append({"fault": what, "rows": 0})
            continue
        worst, key = extra[-1]
        out.append(
            {
                "fault": what,
                "rows": len(extra),
                "extra lag p50 s": round(extra[len(extra) // 2][0], 1),
                "worst extra lag s": round(worst, 1),
                "worst in plan days": round(worst * speed / 86400, 1),
                "worst row": key,
            }
        )
    return out


def compare(calm: Run, faulty: Run) -> dict[str, dict[str, Any]]:
    out = {}
    for what in calm.keys:
        a, b = calm.keys[what], faulty.keys.get(what, Counter())
        lost = sum((a - b).values())
        extra = sum((b - a).values())
        doubled = sum(n - 1 for n in b.values() if n > 1)
        out[what] = {
            "calm": sum(a.values()),
            "faults": sum(b.values()),
            "lost": lost,
            "extra": extra,
            "doubled": doubled,
            "lost e.g.": sorted((a - b).keys())[:3],
            "extra e.g.": sorted((b - a).keys())[:3],
        }
    return out


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plan", type=Path, default=ROOT / "plans" / "suixian-2021.yaml")
    p.add_argument("--speed", type=int, default=345_600, help="plan seconds per server second (4 plan days a second)")
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg-down", type=float, default=60.0, help="seconds PostgreSQL stays down")
    p.add_argument("--refuse", type=float, default=20.0, help="seconds the receivers refuse")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--out", type=Path, default=ROOT / "out" / "faults")
    args = p.parse_args()
    print(f"undisturbed run, {args.plan.name} at {args.speed}×", flush=True)
    calm = await run_campaign(args, "calm", faulty=False)
    print(f"faulty run: {args.kills} worker kills, a Temporal restart, PostgreSQL down {args.pg_down:g} s", flush=True)
    faulty = await run_campaign(args, "faults", faulty=True)
    table = compare(calm, faulty)
    bad = any(v["lost"] or v["extra"] or v["doubled"] for v in table.values()) or any(
        r.figures["audit verify"] != "holds" for r in (calm, faulty)
    )
    report = {
        "command": " ".join(["./scripts/faults", *sys.argv[1:]]),
        "faults": faulty.done,
        "compare": table,
        "delay per fault": delays(calm, faulty, args.speed),
        "calm": {**calm.figures, "seconds": round(calm.seconds, 1)},
        "faulty": {**faulty.figures, "seconds": round(faulty.seconds, 1)},
        "verdict": "FAILED" if bad else "held",
    }
    (args.out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 1 if bad else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))
