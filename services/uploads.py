"""What the office sends the web door as files: a plan to launch a campaign from, a filled score
sheet to import. Each is refused as the CLI refuses the same file: a plan's problem as
`FILE:LINE: message`, every bad cell of a sheet named, nothing stored half. Only the office."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from activities.score_workbook import WorkbookError, read_cells
from models.plan import Plan
from rules.loading import SourceError, directory_reference, parse_plan
from services import campaigns, scores
from services.actors import Actor
from services.campaigns import Launched
from services.context import Services
from services.errors import Forbidden, Invalid
from services.plans import RULESETS, default_rules, load_directory, load_ruleset, scorebook_for
from services.scores import Scored


def _office(actor: Actor) -> None:
    if actor.role != "office":
        raise Forbidden("只有联席会议办公室可以办理此事项")


def base_name(name: str, default: str) -> str:
    """A file name as the user gave it, reduced to its last part: never a path we would follow."""
    return PureWindowsPath(PurePosixPath(name or "").name).name.strip()[:200] or default


def shipped_rulesets() -> list[str]:
    return sorted(p.stem for p in RULESETS.glob("*.yaml"))


def parse_uploaded_plan(ctx: Services, *, name: str, content: bytes) -> Plan:
    """The plan in `content`; its unit directory is looked up under `plans_dir` (a plan names it
    relative to itself, and an upload has no folder of its own)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(name, 1, "not UTF-8 text") from None
    ref, line = directory_reference(text, path=name)
    folder = ctx.settings.plans_dir.resolve()
    dpath = (folder / ref).resolve()
    if not dpath.is_relative_to(folder) or not dpath.is_file():
        raise SourceError(name, line, f"unit directory {ref!r} not found under the plans folder")
    return parse_plan(text, path=name, directory=load_directory(dpath))


async def launch_uploaded(
    ctx: Services, *, actor: Actor, filename: str, content: bytes, ruleset: str | None = None
) -> Launched:
    _office(actor)
    name = base_name(filename, "plan.yaml")
    plan = parse_uploaded_plan(ctx, name=name, content=content)
    if ruleset is not None and ruleset not in shipped_rulesets():
        raise Invalid(f"{ruleset!r} is not a shipped rule set ({', '.join(shipped_rulesets())})")
    rules = load_ruleset(RULESETS / f"{ruleset}.yaml" if ruleset else default_rules(plan), plan)
    office = actor.model_copy(update={"unit": plan.joint_meeting.office})
    return await campaigns.launch(ctx, actor=office, plan=plan, ruleset=rules, scorebook=scorebook_for(plan, None))


async def import_score_sheet(
    ctx: Services, *, actor: Actor, campaign: str, sheet_id: str, filename: str, content: bytes
) -> Scored:
    """A filled sheet (.xlsx) into the campaign, all or nothing (see `scores.import_scores`)."""
    _office(actor)
    name = base_name(filename, "scores.xlsx")
    with tempfile.TemporaryDirectory(prefix="duban-upload-") as tmp:
        path = Path(tmp) / "upload.xlsx"  # our name, not the user's
        path.write_bytes(content)
        try:
            title, cells = await asyncio.to_thread(read_cells, path, prefer=sheet_id)
        except WorkbookError as e:
            raise Invalid(str(e).replace(str(path), name)) from None
    return await scores.import_scores(
        ctx,
        campaign=campaign,
        sheet_id=sheet_id,
        cells=cells,
        source=name,
        where=f"{name} (worksheet {title})",
        entered_by=actor.account,
    )
