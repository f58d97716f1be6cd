"""The campaign's side effects: register, deliver (催办/督办/督办通知), mirror, report, close.

Each method is one activity and one transaction. Everything written carries an idempotency
key that a unique constraint enforces, so a retried, replayed or re-run activity (a worker
killed after its commit and before it reported) writes nothing twice.

One class of activities, put together by subject: `lifecycle` (register, load, mirror, close),
`delivering` (催办/督办/督办通知), `records` (refusals, rules installed, plan amendments) and
`monthly` (月度对账, 通报, 责令整改); `common` holds what they share.
"""

from __future__ import annotations

from activities.campaign.delivering import Delivering
from activities.campaign.lifecycle import Lifecycle
from activities.campaign.monthly import Monthly
from activities.campaign.records import Records


class CampaignActivities(Lifecycle, Delivering, Records, Monthly):
    """Activities over one database, built by the worker with its engine injected; with an
    `outbox`, every inbox row is also pushed to its recipient's e-mail and webhook (queued in the
    same transaction, sent by the dispatch activity)."""
