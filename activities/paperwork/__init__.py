"""The office's papers from the read side: 督办通知, the monthly 通报 and its 台账.

`CampaignActivities` calls these inside its own transactions: a notice's draft is read before
its number is taken (so the counter row stays locked only while the document is rendered and
stored), and the monthly cycle's reconciliation is `rules.reconcile` over the obligations table.
The CLI reads stored papers back through `stored`, checking every file against
the SHA-256 recorded when it was issued.

By subject: `facts` (what the papers need from the campaign's row), `notices` (督办通知),
`monthly` (月度对账, 通报, 台账) and `stored` (papers read back); every name is re-exported here.
"""

from __future__ import annotations

from activities.paperwork.facts import (
    REPLY_WORKING_DAYS,
    RESOLVED_ORDER_STATES,
    CampaignFacts,
    CampaignPapers,
    UnknownCampaign,
    campaign_name,
)
from activities.paperwork.monthly import Orders, bulletin_body, bulletin_document, ledger_document, orders_for, records
from activities.paperwork.notices import SEVERITY_ASK, NoticeDraft, draft_notice
from activities.paperwork.stored import (
    ChecksumMismatch,
    PaperNotFound,
    StoredFile,
    bulletin_of,
    notice_by_code,
    notice_record,
    notice_records,
    notices_of,
    require_campaign,
    stored_files,
)

__all__ = [
    "REPLY_WORKING_DAYS",
    "RESOLVED_ORDER_STATES",
    "SEVERITY_ASK",
    "CampaignFacts",
    "CampaignPapers",
    "ChecksumMismatch",
    "NoticeDraft",
    "Orders",
    "PaperNotFound",
    "StoredFile",
    "UnknownCampaign",
    "bulletin_body",
    "bulletin_document",
    "bulletin_of",
    "campaign_name",
    "draft_notice",
    "ledger_document",
    "notice_by_code",
    "notice_record",
    "notice_records",
    "notices_of",
    "orders_for",
    "records",
    "require_campaign",
    "stored_files",
]
