"""A 实施方案's text read into a draft plan (`duban plan import FILE.txt|FILE.docx`).

Pure: text in (the caller extracts a DOCX's paragraphs), plain data out, ready to be written as a
plan YAML. The text is read in the form county and town offices write: 一、二、… sections,
（一）（二）… sub-headings, numbered tasks `1．name。text（牵头单位：…；责任单位：…）`, the
实施步骤 phases with their dates, milestones as “到2021年底，…“基础型”…”. Whatever the text does
not give is written as `{to_fill: "…"}` in its place (models/open_fields.py), never guessed: the
office fills it in and `duban plan check --strict` says when nothing is left.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

from models.plan import LOCAL_UNITS, UnitDirectory

MAX_LINES = 20_000
"""Lines in one text: a 实施方案 runs to a few hundred; more is not a plan."""

_CN_DIGITS = "一二三四五六七八九十"
_SECTION = re.compile(r"^([一二三四五六七八九十]+)、\s*(.+?)\s*$")
_SUB = re.compile(r"^[（(]([一二三四五六七八九十]+)[）)]\s*(.+?)\s*$")
_TASK = re.compile(r"^(\d{1,3})\s*[．.、]\s*(.+?)。(.*)$")
_UNITS = re.compile(r"[（(]\s*(?P<body>(?:牵头|责任|配合|参与|协同|协办)单位[：:][^（()）]*)[）)]\s*[。.]?\s*$")
_LEAD_KEYS = ("牵头单位",)
_RESP_KEYS = ("责任单位", "配合单位", "参与单位", "协同单位", "协办单位")
_YM = re.compile(r"(\d{4})年(\d{1,2})月(底|初)?")
_YMD = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_MILESTONE = re.compile(r"(?:到|在)(\d{4})年(?:(\d{1,2})月)?(底|末)?[^；。]*?[“\"]([^”\"]{1,8}型)[”\"]")
_HORIZON = re.compile(r"到(\d{4})年([^。；]*)")
_LOCAL_WORDS = ("各镇、场、景区", "各镇（场、景区）", "各乡镇", "各镇")

ASSESSMENT_KINDS = {
    "日常督导": "routine",
    "拉练检查": "field_inspection",
    "年度总评": "annual_review",
    "达标验收": "acceptance",
    "创建综合评估": "annual_review",  # 长河镇: 定期开展创建综合评估
    "跟踪检查": "routine",  # 长河镇: 定期强化工作落实和跟踪检查
}
MILESTONE_IDS = {"基础型": "basic", "示范型": "model", "一般型": "general", "精品型": "premium"}
PHASE_KINDS = {1: ["rollout"], 2: ["rollout", "evaluation"], 3: ["planning", "rollout", "evaluation"]}


class ImportError_(ValueError):
    """The text is not a 实施方案 this reader can draft from (line, message)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"{line}: {message}")
        self.line = line
        self.message = message


def to_fill(what: str, year: int | None = None) -> dict[str, Any]:
    return {"to_fill": what} if year is None else {"to_fill": what, "year": year}


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _day(y: str, m: str, d: str | None = None) -> date | None:
    """A date the text writes (d None: the month's first day); None for 2021年13月, 2月30日…"""
    try:
        return date(int(y), int(m), int(d) if d else 1)
    except ValueError:
        return None


def _clean(line: str) -> str:
    return line.replace("\u3000", " ").strip()


def _units(names: str, directory: UnitDirectory | None) -> tuple[list[str], list[str]]:
    """Unit ids for a 、/，-separated list of names, and the names not in the directory."""
    ids: list[str] = []
    unknown: list[str] = []
    rest = names.strip()
    for local in _LOCAL_WORDS:  # 各镇、场、景区人民政府或管委会 is one item, though it holds 、
        if local in rest:
            head, _, _ = rest.partition(local)
            rest = head
            ids_local = True
            break
    else:
        ids_local = False
    by_name = {u.name: u.id for u in directory.units} if directory else {}
    for name in re.split(r"[、，,]", rest):
        name = name.strip()
        if not name:
            continue
        if name in by_name:
            ids.append(by_name[name])
        else:
            unknown.append(name)
    if ids_local:
        ids.append(LOCAL_UNITS)
    return ids, unknown


def _task_units(parts: dict[str, str], directory: UnitDirectory | None) -> tuple[Any, Any]:
    """(lead, responsible) from the task's （牵头单位：…；责任单位：…）, to_fill where not read."""
    if "lead" not in parts:
        lead: Any = to_fill("牵头单位：原文未明确")
    else:
        ids, bad = _units(parts["lead"], directory)
        if bad:
            lead = to_fill(f"牵头单位：{'、'.join(bad)}（单位目录中未找到）")
        elif len(ids) != 1 or ids[0] == LOCAL_UNITS:
            lead = to_fill(f"牵头单位：{parts['lead']}（duban 需一个牵头单位）")
        else:
            lead = ids[0]
    if "resp" not in parts:
        return lead, to_fill("责任单位：原文未明确")
    ids, bad = _units(parts["resp"], directory)
    return lead, (ids if not bad else to_fill(f"责任单位：{'、'.join(bad)}（单位目录中未找到）"))


def _date_range(text: str, issued: date | None) -> tuple[date | None, date | None]:
    """（2021年4月底前） → (issued, 04-30); （2021年5月—2022年6月） → (05-01, 06-30)."""
    found = [d for y, m, _ in _YM.findall(text) if (d := _day(y, m)) is not None]
    if not found:
        return None, None
    first, last = found[0], found[-1]
    end = _month_end(last.year, last.month)
    if len(found) == 1:
        return (issued if "前" in text else first), end
    return first, end


def draft_plan(text: str, *, directory: UnitDirectory | None, directory_ref: str, plan_id: str) -> dict[str, Any]:
    """The draft plan data the text gives; `{to_fill: …}` wherever it gives none."""
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ImportError_(MAX_LINES + 1, f"more than {MAX_LINES} lines: not a 实施方案")
    rows = [(i + 1, _clean(s)) for i, s in enumerate(lines)]
    rows = [(n, s) for n, s in rows if s]

    # The title: 《…》 on a line of its own or in the cover note, with a （征求意见稿） after it.
    title: str | None = None
    for k, (_, s) in enumerate(rows[:12]):
        if m := re.search(r"《([^》]{2,80})》", s):
            title = m.group(1)
            nxt = rows[k + 1][1] if k + 1 < len(rows) else ""
            if re.fullmatch(r"[（(][^）)]{1,10}稿[）)]", nxt):
                title += "（" + nxt[1:-1] + "）"
            break
    # Issue date and issuer: the 印发 line at the foot (随县人民政府办公室  2021年4月30日印).
    issued: date | None = None
    issuer: str | None = None
    for _, s in reversed(rows[-5:]):
        if (m := _YMD.search(s)) and s.endswith("印"):
            issued = _day(m.group(1), m.group(2), m.group(3))
            issuer = s[: m.start()].strip() or None
            break
    if issued is None:
        for _, s in rows[:6]:
            if (m := _YMD.fullmatch(s)) is not None:
                issued = _day(m.group(1), m.group(2), m.group(3))

    sections: list[tuple[int, str, list[tuple[int, str]]]] = []
    for n, s in rows:
        if m := _SECTION.match(s):
            sections.append((n, m.group(2), []))
        elif sections:
            sections[-1][2].append((n, s))
    if not sections:
        raise ImportError_(1, "no 一、二、… sections: not a 实施方案 in the usual form")

    def section(word: str) -> list[tuple[int, str]] | None:
        return next((body for _, head, body in sections if word in head), None)

    tasks_body = section("重点任务")
    if tasks_body is None:
        raise ImportError_(sections[0][0], "no 重点任务 section: nothing to draft tasks from")
    categories: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    renumbered = False
    numerals: list[str] = []  # each heading's own numeral, for a task's `ref` (（三）2)
    for n, s in tasks_body:
        if m := _SUB.match(s):
            categories.append({"no": len(categories) + 1, "name": m.group(2).rstrip("。．. ")})
            numerals.append(m.group(1))
            continue
        if (m := _TASK.match(s)) is None:
            continue
        if not categories:
            raise ImportError_(n, "a numbered task before any （一）… heading")
        num, name, rest = int(m.group(1)), m.group(2).strip(), m.group(3).strip()
        renumbered = renumbered or num != len(tasks) + 1
        task: dict[str, Any] = {"no": len(tasks) + 1, "name": name, "category": categories[-1]["no"]}
        task["_ref"] = f"（{numerals[-1]}）{num}"
        task["_line"] = n
        u = _UNITS.search(rest)
        parts: dict[str, str] = {}
        if u is not None:
            rest = rest[: u.start()].rstrip()
            for part in re.split(r"[；;]", u.group("body")):
                key, sep, value = re.sub(r"[：:]", "：", part.strip(), count=1).partition("：")
                if sep and (key in _LEAD_KEYS or key in _RESP_KEYS):
                    kind = "lead" if key in _LEAD_KEYS else "resp"
                    parts[kind] = "、".join(x for x in (parts.get(kind, ""), value.strip()) if x)
        task["lead"], task["responsible"] = _task_units(parts, directory)
        task["text"] = rest
        tasks.append(task)
    if not tasks:
        raise ImportError_(sections[0][0], "重点任务 names no numbered task (1．name。…)")
    for t in tasks:
        ref = t.pop("_ref")
        t.pop("_line")
        if renumbered:  # the text numbers tasks afresh under each heading: keep its numbering
            t["ref"] = ref
    # Keys in the order the plan files use.
    order = ["no", "ref", "name", "category", "lead", "responsible", "text"]
    tasks = [{k: t[k] for k in order if k in t} for t in tasks]

    goals = section("目标") or []
    goal_text = "".join(s for _, s in goals)
    phases: list[dict[str, Any]] = []
    steps = section("实施步骤")
    if steps:
        heads = [(n, m.group(2)) for n, s in steps if (m := _SUB.match(s))]
        kinds = PHASE_KINDS.get(len(heads))
        if kinds is None:
            raise ImportError_(heads[0][0] if heads else 1, f"实施步骤 has {len(heads)} stages; duban knows 1 to 3")
        for k, ((n, head), kind) in enumerate(zip(heads, kinds, strict=True)):
            m = re.match(r"(.+?)[（(]([^）)]*)[）)]", head)
            ptitle = (m.group(1) if m else head).rstrip("。．. ")
            start, end = _date_range(m.group(2) if m else "", issued)
            body = "".join(s for ln, s in steps if ln > n and (k + 1 >= len(heads) or ln < heads[k + 1][0]))
            phase: dict[str, Any] = {
                "name": kind,
                "title": ptitle,
                "start": start or to_fill(f"开始日期：原文未写（{head}）", end.year if end else None),
                "end": end or to_fill(f"结束日期：原文未写（{head}）", start.year if start else None),
            }
            if kind == "planning" and body:
                phase["duties"] = [
                    {
                        "id": "work_plan",
                        "name": body.rstrip("。"),
                        "units": [LOCAL_UNITS] if body.startswith(_LOCAL_WORDS) else to_fill("责任单位：原文未明确"),
                        "due": end or to_fill("完成日期：原文未写"),
                    }
                ]
            if kind == "rollout":
                ms = _milestones(body)
                if ms:
                    phase["tasks_due_at_milestones"] = True
                    phase["milestones"] = ms
            phases.append(phase)
    else:
        # No stages: one rollout phase from the targets, to the furthest year they name.
        ms = _milestones(goal_text)
        horizon = max(_HORIZON.finditer(goal_text), key=lambda h: int(h.group(1)), default=None)
        first = min((int(y) for y in re.findall(r"(\d{4})年", goal_text)), default=None)
        phase = {
            "name": "rollout",
            "title": to_fill("阶段名称：原文未分阶段"),
            "start": to_fill("开始日期：原文未写", first),
            "end": to_fill(f"结束日期：原文只写“到{horizon.group(1)}年”", int(horizon.group(1)))
            if horizon
            else to_fill("结束日期：原文未写"),
        }
        if horizon:
            phase["goal"] = horizon.group(0).rstrip("，,")
        if ms:
            phase["tasks_due_at_milestones"] = True
            phase["milestones"] = ms
        phases.append(phase)

    whole = "".join(s for _, s in rows)
    assessments = [{"kind": kind, "name": name} for name, kind in ASSESSMENT_KINDS.items() if name in whole]
    offices = [u for u in directory.units if u.kind.value == "office"] if directory else []
    conveners = [u for u in directory.units if u.kind.value == "convener"] if directory else []
    jm = re.search(r"(?:建立|成立)([^，。]{2,40}?(?:联席会议|领导小组))", whole)
    scope = re.search(r"以([^，。]{2,40}?)为主要对象", whole) or re.search(r"以(建成区为重点，兼顾辖区全域)", whole)
    return {
        "id": plan_id,
        "title": title or to_fill("标题：原文未写"),
        "issued": issued or to_fill("印发日期：原文无日期"),
        "issuer": issuer or to_fill("印发单位：原文未写"),
        "region": directory.region if directory else to_fill("地区：原文未写"),
        "notice_prefix": to_fill("督办通知文号前缀：原文未写"),
        "scope": (scope.group(0) if scope else "") or to_fill("范围：原文未写"),
        "exclude_seat": "不含城关镇" in whole,
        "directory": directory_ref,
        "joint_meeting": {
            "name": jm.group(1) if jm else to_fill("议事协调机构：原文未写"),
            "convener": conveners[0].id if len(conveners) == 1 else to_fill("召集人：单位目录中未找到"),
            "office": offices[0].id if len(offices) == 1 else to_fill("办公室：单位目录中未找到"),
        },
        "categories": categories,
        "phases": phases,
        "assessments": assessments,
        "tasks": tasks,
    }


def _milestones(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, m in enumerate(_MILESTONE.finditer(text)):
        y, month, name = int(m.group(1)), m.group(2), m.group(4)
        if not 1900 <= y <= 2100 or (month and not 1 <= int(month) <= 12):
            continue  # not a date (2021年13月): no milestone rather than a guessed one
        if month:
            due: Any = _month_end(y, int(month))
        elif m.group(3):
            due = date(y, 12, 31)
        else:
            due = to_fill(f"达标日期：原文只写“{m.group(0)[:6]}”", y)
        sentence = text[m.start() :].split("；")[0].split("。")[0]
        out.append({"id": MILESTONE_IDS.get(name, f"m{k + 1}"), "name": name, "due": due, "standard": sentence})
    return out
