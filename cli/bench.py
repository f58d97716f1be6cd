"""`duban bench province`: a province launched on a dev server of its own, beside the raw engine.
Prints a Markdown table of medians (for BENCHMARKS.md) and, with `--json`, every run's figures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import typer

from cli.common import UserError, err, out
from services.bench.province import ProvinceBench, ProvinceRun, bench_province, medians

app = typer.Typer(no_args_is_help=True, help="Benchmarks on servers of their own (BENCHMARKS.md).")


@app.command("province")
def province(
    towns: int = typer.Option(1000, "--towns", help="Towns in the province (10 to a county)."),
    tasks: int = typer.Option(15, "--tasks", help="The 随县 plan's first N tasks (it has 15)."),
    runs: int = typer.Option(3, "--runs", help="Runs, each on a fresh server, database and worker."),
    naive_sample: int = typer.Option(1500, "--naive-sample", help="Obligation workflows in the naive sample."),
    storm: bool = typer.Option(False, "--storm", help="Also a timer storm: every 基础型 deadline at one instant."),
    storm_lead: float = typer.Option(
        0.0, "--storm-lead", help="Seconds from the storm campaign's launch to its instant (0: 60 + 3 × launch)."
    ),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds to wait for any one step."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write every run's figures here."),
) -> None:
    """Launch a generated province (the 随县 plan's towns multiplied) beside the raw engine."""
    if min(towns, tasks, runs, naive_sample) < 1 or tasks > 15:
        raise UserError("--towns, --runs and --naive-sample must be at least 1, --tasks 1 to 15")

    def said(r: ProvinceRun) -> None:
        err.print(f"run done: {r.model_dump_json(exclude_none=True)}", markup=False)

    try:
        result = asyncio.run(
            bench_province(
                towns=towns,
                tasks=tasks,
                runs=runs,
                naive_sample=naive_sample,
                limit=timeout,
                with_storm=storm,
                storm_lead=storm_lead,
                progress=said,
            )
        )
    except (TimeoutError, RuntimeError) as e:  # a step that never finished, or the worker died
        raise UserError(f"bench province: {e}", code=1) from None
    if json_out is not None:
        json_out.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    for line in table(result):
        out.print(line, markup=False)


def table(b: ProvinceBench) -> list[str]:
    """The medians as a Markdown table, every run's figure beside."""
    r0 = b.runs[0]
    n = len(b.runs)

    def row(label: str, key: Callable[[ProvinceRun], float], fmt: str = "{:.1f}") -> str:
        med, each = medians(b, key)
        return f"| {label} | {fmt.format(med)} | {', '.join(fmt.format(x) for x in each)} |"

    lines = [
        f"| {b.towns} towns × {b.tasks} tasks ({r0.obligations} obligations), median of {n} | median | all runs |",
        "|---|---:|---|",
        row(f"raw engine: {b.towns} empty workflows from a client, to completion, s", lambda r: r.raw_client),
        row(f"raw engine: {b.towns} empty children of one workflow, to completion, s", lambda r: r.raw_children),
        row("province launch: every town's unit workflow started, s", lambda r: r.started),
        row("province launch: … and its first timer set, s", lambda r: r.timers),
        row("launch ÷ raw engine (client), ×", lambda r: r.timers / r.raw_client, "{:.2f}"),
        row(
            f"naive design: {r0.naive_sample_size} obligation workflows started and waiting, s",
            lambda r: r.naive_sample,
        ),
        row(f"naive design: all {r0.obligations} obligations, extrapolated, s", lambda r: r.naive),
        row("naive ÷ launch, ×", lambda r: r.naive / r.timers, "{:.1f}"),
        row("worker peak RSS, MB", lambda r: r.rss_mb, "{:.0f}"),
        row("largest history, events", lambda r: r.largest, "{:.0f}"),
    ]
    if all(r.storm is not None for r in b.runs):
        lines += [
            row(
                "storm: duban, inbox rows due at one instant (found)",
                lambda r: r.storm.rows if r.storm else 0,
                "{:.0f}",
            ),
            row("storm: duban, rows armed ahead", lambda r: r.storm.armed if r.storm else 0, "{:.0f}"),
            row("storm: duban, lag due → inbox row, p50, s", lambda r: r.storm.p50 if r.storm else 0, "{:.2f}"),
            row("storm: duban, lag due → inbox row, p99, s", lambda r: r.storm.p99 if r.storm else 0, "{:.2f}"),
            row("storm: duban, lag, max, s", lambda r: r.storm.max if r.storm else 0, "{:.2f}"),
            row(
                "storm: duban, lag due → delivery on the chain, p50, s",
                lambda r: r.storm.confirmed_p50 if r.storm else 0,
                "{:.2f}",
            ),
            row(
                "storm: duban, lag due → delivery on the chain, p99, s",
                lambda r: r.storm.confirmed_p99 if r.storm else 0,
                "{:.2f}",
            ),
            row(
                "storm: raw engine, plain timers due at one instant",
                lambda r: r.storm.raw_timers if r.storm else 0,
                "{:.0f}",
            ),
            row(
                "storm: raw engine, lag due → TimerFired, p50, s", lambda r: r.storm.raw_p50 if r.storm else 0, "{:.2f}"
            ),
            row(
                "storm: raw engine, lag due → TimerFired, p99, s", lambda r: r.storm.raw_p99 if r.storm else 0, "{:.2f}"
            ),
            row(
                "storm: p99 ÷ raw engine's p99, ×", lambda r: r.storm.p99 / r.storm.raw_p99 if r.storm else 0, "{:.1f}"
            ),
            row(
                "storm: delivery on the chain, p99 ÷ raw engine's p99, ×",
                lambda r: r.storm.confirmed_p99 / r.storm.raw_p99 if r.storm else 0,
                "{:.1f}",
            ),
            row(
                "storm campaign: every rollout unit's first timer set, s after launch",
                lambda r: r.storm.ready if r.storm else 0,
            ),
            row("storm campaign: its instant, s after launch (clock speed)", lambda r: r.storm.lead if r.storm else 0),
        ]
        steps = ("queries", "reconcile", "documents", "docx_pdf", "xlsx")
        if r0.storm and r0.storm.bulletin:
            n_ob = r0.storm.bulletin.get("obligations", 0)
            lines.append(
                row(
                    f"a month's 通报 ({b.towns} towns, {n_ob:.0f} obligations), s: {' + '.join(steps)}",
                    lambda r: sum(r.storm.bulletin.get(k, 0) for k in steps) if r.storm else 0,
                )
            )
            for k in steps:
                lines.append(row(f"… {k}, s", _step(k), "{:.2f}"))
        if r0.storm and r0.storm.bulletin_indexes:
            used = "; ".join(f"{k}: {', '.join(v)}" for k, v in r0.storm.bulletin_indexes.items())
            lines.append(f"\nthe 通报's queries scan (run 1): {used}")
    la = ", ".join(f"{x:.1f}" for x in b.load_average)
    lines.append(f"\nload average at the end (1, 5, 15 min): {la}")
    return lines


def _step(k: str) -> Callable[[ProvinceRun], float]:
    return lambda r: r.storm.bulletin.get(k, 0.0) if r.storm else 0.0
