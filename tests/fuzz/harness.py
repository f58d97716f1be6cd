"""Fuzzing every door a user hands us something through: plan, directory, rule-set, score-sheet,
contacts, calendar and scenario files, score workbooks, the `install_rules` Update's payload, and
the CLI's date arguments.

A structure-blind mutator (bytes flipped, spans cut, doubled, spliced between seeds, and tokens
that YAML and XML give meaning to inserted) works on the shipped files; each mutant goes through
its entry point under a per-case time limit. An outcome is one of: accepted; refused as the
entry point says it refuses (`SourceError` with a file and a line ≥ 1, `Invalid`, `WorkbookError`,
a `ValueError` from the Update validator, …), with a message that names its place; or a finding
(any other exception: a traceback; or over the time limit: a hang). `scripts/fuzz --minutes N`
runs it for longer; tests/fuzz/test_fuzz.py on a small budget.
"""

from __future__ import annotations

import io
import json
import random
import signal
import tempfile
import time
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "plans"
SEEDS = {
    "plan": [PLANS / "suixian-2021.yaml", PLANS / "changhe-2021.yaml", ROOT / "tests/fixtures/mini-plan.yaml"],
    "directory": [PLANS / "units/suixian.yaml", PLANS / "units/changhe.yaml"],
    "ruleset": [*sorted((ROOT / "rules/rulesets").glob("*-default.yaml")), ROOT / "rules/rulesets/suixian-basic.yaml"],
    "scoresheet": [PLANS / "scoresheets/suixian.yaml"],
    "contacts": [PLANS / "contacts/suixian.yaml"],
    "calendar": [PLANS / "calendar/cn-extra.yaml"],
    "scenarios": [ROOT / "rules/rulesets/suixian-default.scenarios.yaml"],
    "plan_text": [ROOT / "tests/fixtures/suixian-2021-plan.txt", ROOT / "tests/fixtures/changhe-2021-plan.txt"],
}
TOKENS = [
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"[",
    b"]",
    b"{",
    b"}",
    b"- ",
    b": ",
    b"\n",
    b"\n  ",
    b"\x00",
    b"\x1b",
    b"\xff",
    b"\xef\xbb\xbf",
    b"'",
    b'"',
    b"#",
    b"!!python/object:os.system ",
    b"!!binary ",
    b"? ",
    b"|\n",
    b"%YAML 1.1\n",
    b"---\n",
    b"...\n",
    b"99999999999999999999",
    b"-1",
    b"1e309",
    b"2021-02-30",
    b".inf",
    b"~",
    b"null",
    b"../../../../etc/passwd",
    b"/proc/self/environ",
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]>',
    b"&a;",
    b'<c r="XFD1048576">',
    b't="s"',
    b"<v>",
    b"</v>",
    b"<f>",
    b"\xe4\xb8\xad",
]
CASE_SECONDS = 10.0
"""A case that runs longer is a hang (the slowest legitimate one, a whole plan, takes well under 1 s)."""


class Hang(Exception):
    pass


@dataclass
class Finding:
    door: str
    kind: str  # "traceback", "hang", "unnamed refusal"
    detail: str
    sample: bytes


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        doors = ", ".join(f"{d} {n:,} ({self.refused[d]:,} refused)" for d, n in sorted(self.cases.items()))
        return (
            f"{sum(self.cases.values()):,} cases in {self.seconds:.0f} s: {doors}; "
            f"{len(self.findings)} findings ({Counter(f.kind for f in self.findings)})"
        )


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """A few structure-blind edits."""
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
        n = len(b)
        op = rng.randrange(7)
        i = rng.randrange(n + 1) if n else 0
        if op == 0 and n:
            b[min(i, n - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i:i] = rng.choice(TOKENS)
        elif op == 2 and n:
            j = min(n, i + rng.randrange(1, 64))
            del b[i:j]
        elif op == 3 and n:
            j = min(n, i + rng.randrange(1, 256))
            b[i:i] = b[i:j] * rng.randrange(1, 4)
        elif op == 4:
            other = rng.choice(pool)
            if other:
                k = rng.randrange(len(other))
                b[i:i] = other[k : k + rng.randrange(1, 200)]
        elif op == 5 and n:
            b[i:i] = bytes([rng.randrange(256)])
        elif op == 6 and n:
            j = min(n, i + rng.randrange(1, 32))
            b[i:j] = bytes(reversed(b[i:j]))
    return bytes(b)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def hang(signum: int, frame: Any) -> None:
        raise Hang(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Doors:
    """Each entry point as a function of bytes: returns normally (accepted) or raises."""

    def __init__(self, work: Path) -> None:
        from rules.loading import parse_directory, parse_plan
        from services.plans import load_scorebook

        self.work = work
        (work / "units").mkdir(parents=True, exist_ok=True)
        for f in SEEDS["directory"]:
            (work / "units" / f.name).write_bytes(f.read_bytes())
        text = SEEDS["plan"][0].read_text(encoding="utf-8")
        self.directory = parse_directory(SEEDS["directory"][0].read_text(encoding="utf-8"), path="d.yaml")
        self.plan = parse_plan(text, path="p.yaml", directory=self.directory)
        self.book = load_scorebook(SEEDS["scoresheet"][0], self.plan)
        self.sheet = self.book.sheets[0]
        self.units = self.book.units_in_scope(self.plan.directory)
        self.workbook = self._workbook()
        self._wf = self._campaign_workflow()

    def _workbook(self) -> bytes:
        from activities.score_workbook import write_template

        path = self.work / "template.xlsx"
        write_template(path, self.sheet, self.units, assessor="张三", on=datetime(2021, 12, 28).date())
        return path.read_bytes()

    def _campaign_workflow(self) -> Any:
        from services.plans import DEFAULT_RULES, prepare
        from workflows.campaign import CampaignWorkflow

        inp = prepare(
            self.plan, DEFAULT_RULES, campaign_id="fuzz", server_now=datetime(2021, 5, 1, tzinfo=UTC), live=False
        )
        wf = CampaignWorkflow()
        wf._inp, wf._ctx = inp.input, inp.input.context
        return wf

    def _file(self, name: str, data: bytes) -> Path:
        p = self.work / name
        p.write_bytes(data)
        return p

    def plan_file(self, data: bytes) -> None:
        from services.plans import load_plan

        load_plan(self._file("plan.yaml", data))

    def directory_file(self, data: bytes) -> None:
        from services.plans import load_directory

        load_directory(self._file("dir.yaml", data))

    def ruleset_file(self, data: bytes) -> None:
        from services.plans import load_ruleset

        load_ruleset(self._file("rules.yaml", data), self.plan)

    def scoresheet_file(self, data: bytes) -> None:
        from services.plans import load_scorebook

        load_scorebook(self._file("sheets.yaml", data), self.plan)

    def contacts_file(self, data: bytes) -> None:
        from activities.delivery import load_contacts

        (self.work / "contacts").mkdir(exist_ok=True)
        p = self.work / "contacts" / "c.yaml"
        p.write_bytes(data)
        load_contacts(p)

    def calendar_file(self, data: bytes) -> None:
        from services.plans import calendar_file_years

        calendar_file_years(self._file("cal.yaml", data))

    def scenarios_file(self, data: bytes) -> None:
        from rules.scenarios import parse_scenarios
        from services.plans import read_text

        parse_scenarios(read_text(self._file("sc.yaml", data)), path="sc.yaml")

    def workbook_bytes(self, data: bytes) -> None:
        from activities.score_workbook import read_cells
        from rules.score_import import read_scores

        _, rows = read_cells(self._file("scores.xlsx", data))
        read_scores(self.sheet, self.units, rows, source="scores.xlsx")

    def workbook_part(self, data: bytes, rng: random.Random) -> bytes:
        """The template with one of its parts mutated (blind to XML), zipped again."""
        src = zipfile.ZipFile(io.BytesIO(data))
        names = src.namelist()
        target = rng.choice([n for n in names if n.endswith(".xml")])
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for n in names:
                body = src.read(n)
                if n == target:
                    body = mutate(body, rng, [body])
                elif rng.random() < 0.02:
                    continue  # a part left out
                z.writestr(n, body)
        return out.getvalue()

    def plan_text(self, data: bytes) -> None:
        """`duban plan import FILE.txt`: a 实施方案's text drafted into a plan."""
        from services.plan_import import import_plan_text

        import_plan_text(self._file("plan.txt", data), directory=SEEDS["directory"][0], out=self.work / "draft.yaml")

    def plan_workbook(self) -> bytes:
        from services.plan_sheets import export_xlsx

        path = self.work / "plan.xlsx"
        export_xlsx(SEEDS["plan"][0], path, contacts=SEEDS["contacts"][0])
        return path.read_bytes()

    def plan_workbook_bytes(self, data: bytes) -> None:
        """`duban plan import BOOK.xlsx`: the 任务分解表, 单位目录 and 联系方式 sheets read back."""
        from services.plan_sheets import import_xlsx

        (self.work / "contacts").mkdir(exist_ok=True)
        import_xlsx(
            self._file("book.xlsx", data),
            plan_path=SEEDS["plan"][0],
            out=self.work / "back.yaml",
            units_out=self.work / "units.yaml",
            contacts_out=self.work / "contacts" / "back.yaml",
        )

    def install_rules_payload(self, data: bytes) -> None:
        """What the data converter does with an Update's JSON, then the validator."""
        from models.payloads import InstallRules

        req = InstallRules.model_validate_json(data)
        self._wf._v_install_rules(req)

    def cli_date(self, data: bytes) -> None:
        from cli.common import parse_date, parse_month

        s = data.decode("utf-8", "replace")
        parse_date(s)
        parse_month(s)


def refusal_problem(door: str, e: BaseException) -> str | None:
    """None when `e` is a refusal the door may give, naming its place; else what is wrong."""
    from activities.score_workbook import WorkbookError
    from cli.common import UserError
    from rules.loading import SourceError
    from services.errors import Invalid

    if isinstance(e, SourceError):
        return None if e.line >= 1 and e.path and e.message else f"SourceError without a place: {e}"
    if isinstance(e, Invalid):
        return None if ":" in e.message else f"Invalid without a place: {e.message}"
    if isinstance(e, WorkbookError):
        return None if ".xlsx: " in str(e) else f"WorkbookError without the file: {e}"
    if door == "install_rules" and isinstance(e, ValidationError | ValueError):
        return None  # a Temporal client gets the refusal; no file, no line to name
    if door == "cli_date" and isinstance(e, UserError):
        return None
    return "traceback"


def install_rules_seeds() -> list[bytes]:
    from rules.loading import parse_ruleset

    out = []
    for f in SEEDS["ruleset"]:
        rs = parse_ruleset(f.read_text(encoding="utf-8"), path=str(f))
        out.append(json.dumps({"ruleset": rs.model_dump(mode="json"), "path": f.name}).encode())
    out.append(json.dumps({"text": "a: &a [x]\nb: [*a, *a]\n", "path": "bomb.yaml"}).encode())
    return out


def run(
    *, seconds: float, seed: int = 0, doors: list[str] | None = None, log: Callable[[str], None] | None = None
) -> Tally:
    """Fuzz every door (or `doors`) round-robin for `seconds`; the same seed, the same cases."""
    rng = random.Random(seed)
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        d = Doors(Path(tmp))
        files = {k: [p.read_bytes() for p in v] for k, v in SEEDS.items()}
        table: dict[str, tuple[Callable[[bytes], None], list[bytes]]] = {
            "plan": (d.plan_file, files["plan"]),
            "directory": (d.directory_file, files["directory"]),
            "ruleset": (d.ruleset_file, files["ruleset"]),
            "scoresheet": (d.scoresheet_file, files["scoresheet"]),
            "contacts": (d.contacts_file, files["contacts"]),
            "calendar": (d.calendar_file, files["calendar"]),
            "scenarios": (d.scenarios_file, files["scenarios"]),
            "workbook": (d.workbook_bytes, [d.workbook]),
            "install_rules": (d.install_rules_payload, install_rules_seeds()),
            "cli_date": (d.cli_date, [b"2021-12-31", b"2021-12"]),
            "plan_text": (d.plan_text, files["plan_text"]),
            "plan_workbook": (d.plan_workbook_bytes, [d.plan_workbook()]),
        }
        names = [n for n in table if doors is None or n in doors]
        pool = [b for _, seeds in table.values() for b in seeds]
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < seconds:
            door = names[i % len(names)]
            i += 1
            fn, seeds = table[door]
            seed_bytes = rng.choice(seeds)
            if door in ("workbook", "plan_workbook") and rng.random() < 0.8:
                sample = d.workbook_part(seed_bytes, rng)
            else:
                sample = mutate(seed_bytes, rng, pool)
            tally.cases[door] += 1
            try:
                with time_limit(CASE_SECONDS):
                    fn(sample)
            except Hang as e:
                tally.findings.append(Finding(door, "hang", str(e), sample))
            except Exception as e:  # the point: anything a door raises is judged here
                problem = refusal_problem(door, e)
                if problem is None:
                    tally.refused[door] += 1
                else:
                    detail = "".join(traceback.format_exception(e)[-3:]) if problem == "traceback" else problem
                    tally.findings.append(Finding(door, problem, detail, sample))
                    if log:
                        log(f"finding: {door}: {detail.strip().splitlines()[-1]}")
        tally.seconds = time.monotonic() - start
    return tally


def main(argv: list[str] | None = None) -> int:
    """`scripts/fuzz [--minutes N] [--seed S] [--door D]… [--out DIR]`: exit 1 on any finding,
    its samples written to DIR (default out/fuzz) to reproduce."""
    import argparse

    ap = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--door", action="append", help="only these entry points (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "fuzz")
    a = ap.parse_args(argv)
    tally = run(seconds=a.minutes * 60, seed=a.seed, doors=a.door, log=print)
    print(tally.summary())
    if tally.findings:
        a.out.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(tally.findings):
            (a.out / f"{i:04d}-{f.door}-{f.kind.replace(' ', '-')}.bin").write_bytes(f.sample)
            (a.out / f"{i:04d}-{f.door}.txt").write_text(f.detail, encoding="utf-8")
        print(f"{len(tally.findings)} findings: samples in {a.out}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
