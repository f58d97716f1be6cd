"""What the dispatch loop cannot fix itself, told to the office: pushes failed or uncertain.

The ledger keeps every failed and uncertain push with its errors (`duban deliveries`); this puts
a line in the office's inbox (never pushed: the channel may be the thing that is down) and a row on
the audit chain, once per dispatch call that saw any.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.delivery import InboxItem, write_inbox
from activities.store import audit
from models.payloads import Act, DispatchAlert

log = structlog.get_logger()

CHANNEL_NAMES = {"email": "电子邮件", "webhook": "即时通讯（Webhook）"}


def alert_text(inp: DispatchAlert) -> tuple[str, str]:
    parts = [f"{CHANNEL_NAMES.get(ch, ch)}{n}条发送失败" for ch, n in sorted(inp.failed_by_channel.items())]
    if inp.uncertain:
        parts.append(f"{inp.uncertain}条发送结果不明（不会自动重发）")
    cid = inp.provenance.campaign_id
    title = "推送通道异常：" + "，".join(parts)
    body = (
        f"{title}。站内信不受影响；请核对通讯录与通道配置，"
        f"并用 duban deliveries {cid} --status failed（或 --status uncertain）查看明细。"
    )
    return title, body


class DispatchAlerts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.db = engine

    @activity.defn(name=Act.dispatch_alert)
    async def dispatch_alert(self, inp: DispatchAlert) -> None:
        title, body = alert_text(inp)
        cid = inp.provenance.campaign_id
        async with self.db.begin() as conn:
            await write_inbox(
                conn,
                InboxItem(
                    key=inp.key, campaign_id=cid, recipient=inp.office, kind="delivery", title=title, body=body,
                    **audit.times(inp),
                ),
            )  # fmt: skip
            await audit.record(
                conn,
                inp,
                key=inp.key,
                kind="delivery.alert",
                actor="dispatch",
                payload={"failed_by_channel": inp.failed_by_channel, "uncertain": inp.uncertain},
            )
        log.warning(
            "pushes failed or uncertain", campaign_id=cid, failed=inp.failed_by_channel, uncertain=inp.uncertain
        )
