"""The read side and the audit chain, as SQLAlchemy Core tables. Alembic migrations mirror this.

Idempotency lives here: every row an activity may write twice (on a retry, a replay, a worker
killed between writing and reporting) has a unique key, and writes use ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    or_,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _times() -> list[Column]:  # type: ignore[type-arg]
    return [
        Column("plan_time", DateTime(timezone=True), nullable=False),
        Column("server_time", DateTime(timezone=True), nullable=False),
    ]


campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("plan_id", String(100), nullable=False),
    Column("plan_title", Text, nullable=False),
    Column("plan_hash", String(80), nullable=False),
    Column("ruleset_id", String(100), nullable=False),
    Column("ruleset_hash", String(80), nullable=False),
    Column("calendar_hash", String(80), nullable=False),
    Column("offset_seconds", BigInteger, nullable=False),
    Column("status", String(20), nullable=False, server_default="running"),
    Column("plan", JSONB, nullable=False),
    Column("ruleset", JSONB, nullable=False),
    Column("calendar", JSONB, nullable=False),
    Column("summary", JSONB),
    Column("launched_plan_time", DateTime(timezone=True), nullable=False),
    Column("launched_server_time", DateTime(timezone=True), nullable=False),
    Column("closed_plan_time", DateTime(timezone=True)),
    # The score sheets the campaign is assessed on, pinned at launch (None: launched without),
    # and its clock, so commands outside the workflows (scores entered) know its plan time.
    Column("scorebook", JSONB),
    Column("scorebook_hash", String(80)),
    Column("clock", JSONB),
)

obligations = Table(
    "obligations",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("phase", String(20), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("unit_name", Text, nullable=False),
    Column("unit_kind", String(20), nullable=False),
    Column("role", String(20), nullable=False),
    Column("task_no", Integer),
    Column("category", Integer),
    Column("duty", String(64)),
    Column("milestone", String(32)),
    Column("title", Text, nullable=False),
    Column("lead", String(64), nullable=False),
    Column("assigned", Date, nullable=False),
    Column("due", Date, nullable=False),
    Column("state", String(20), nullable=False, server_default="assigned"),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("reminders", Integer, nullable=False, server_default="0"),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("extended_due", Date),  # an approved 延期申请; `due` stays the plan's
    Column("extensions", Integer, nullable=False, server_default="0"),
    Column("evaluation", String(20)),  # 评价: accepted | returned
    Column("evidence", JSONB, nullable=False, server_default="[]"),  # [{name, sha256, size, media_type}]
    Index("ix_obligations_campaign_unit", "campaign_id", "phase", "unit_id"),
    # A province's board pages its grid by unit and drills down by task (migration 0009).
    Index("ix_obligations_board_unit_task", "campaign_id", "unit_id", "task_no"),
    Index("ix_obligations_board_task_unit", "campaign_id", "task_no", "unit_id"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # reminder | escalation | notice | bulletin | rectification
    Column("obligation_id", String(200)),
    Column("rule_id", String(100)),
    Column("level", Integer, nullable=False, server_default="0"),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    *_times(),
    Column("read_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A reminder armed ahead of its instant (`Delivering.arm`) shows from `visible_from` and is
    # confirmed by the delivery at its instant; both NULL for a row written at its instant.
    Column("visible_from", DateTime(timezone=True)),
    Column("confirmed_at", DateTime(timezone=True)),
    Index("ix_inbox_recipient", "campaign_id", "recipient"),
)

INBOX_SHOWN = or_(inbox.c.visible_from.is_(None), inbox.c.visible_from <= func.now())
"""An inbox row its recipient sees: written at its instant, or armed and its instant come."""
INBOX_DELIVERED = or_(inbox.c.visible_from.is_(None), inbox.c.confirmed_at.is_not(None))
"""An inbox row the engine delivered (and the chain records): not one still only armed."""

notice_counters = Table(
    "notice_counters",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

supervision_notices = Table(
    "supervision_notices",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("number", Integer, nullable=False),
    Column("code", String(100), nullable=False),  # 随擦亮督〔2021〕3号
    Column("unit_id", String(64), nullable=False),
    Column("copy_to", String(64)),
    Column("obligation_id", String(200), nullable=False),
    Column("rule_id", String(100), nullable=False),
    Column("level", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    *_times(),
    Column("severity", String(10)),  # 三色督办: blue | yellow | red (NULL for notices issued before 0004)
    UniqueConstraint("campaign_id", "year", "number", name="uq_notice_number"),
)

bulletins = Table(
    "bulletins",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("month", Date, nullable=False),
    Column("body", JSONB, nullable=False),
    *_times(),
    UniqueConstraint("campaign_id", "month", name="uq_bulletin_month"),
)

rectification_orders = Table(
    "rectification_orders",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("month", Date, nullable=False),
    Column("overdue", Integer, nullable=False),
    Column("due", Date, nullable=False),
    Column("state", String(20), nullable=False, server_default="open"),
    *_times(),
    # Followed by a RectificationWorkflow (migration 0004_rectification): its id, where the order
    # came from, and each step mirrored (`step_seq` keeps the latest decision).
    Column("workflow_id", String(300)),
    Column("source", String(100)),
    Column("obligation_id", String(200)),
    Column("first_due", Date),
    Column("round", Integer, nullable=False, server_default="0"),
    Column("report_text", Text),
    Column("evidence", JSONB),
    Column("reported_at", DateTime(timezone=True)),
    Column("reviewer", String(64)),
    Column("review_reason", Text),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("escalated_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("step_seq", Integer, nullable=False, server_default="0"),
    # Issued per unit (migration 0011): the rung of the rule set's measures (1 责令整改, 2 通报批评,
    # 3 约谈 by default), its name, and the obligations the order lists (NULL before).
    Column("level", SmallInteger, nullable=False, server_default="1"),
    Column("measure", Text),
    Column("listed", JSONB),  # not "items": `table.c.items` is the column collection's method
    CheckConstraint(
        "state IN ('open', 'reported', 'resolved', 'sent_back', 'rejected', 'escalated')",
        name="ck_rectification_orders_state",
    ),
    Index("ix_rectification_orders_state", "campaign_id", "state"),
)

assessments = Table(
    "assessments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("milestone", String(32), nullable=False, server_default=""),
    Column("unit_id", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("detail", JSONB, nullable=False),
    *_times(),
    Column("attempt", SmallInteger, nullable=False, server_default="1"),  # 1 at the milestone, 2 the re-check
    UniqueConstraint("campaign_id", "kind", "milestone", "unit_id", "attempt", name="uq_assessment"),
)

# Scores as the assessors gave them (考核评分), each pinned to the score book it was scored on. A
# correction is a new row that `supersedes` the one it corrects; the current scores are the rows
# nothing supersedes. Key: campaign#score#sheet#unit#date#source, and #N for the Nth version.
assessment_scores = Table(
    "assessment_scores",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(400), nullable=False, unique=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("sheet_id", String(31), nullable=False),
    Column("scorebook_hash", String(80), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("assessed_on", Date, nullable=False),
    Column("assessor", String(64), nullable=False),
    Column("points", JSONB, nullable=False),  # criterion id → points
    Column("findings", JSONB, nullable=False),  # [text, …]
    Column("total", Numeric(5, 2), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("source", Text, nullable=False),  # cli | FILE.xlsx:ROW | simulation
    Column("entered_by", String(100), nullable=False),
    Column("supersedes", ForeignKey("assessment_scores.id"), unique=True),
    *_times(),
    Index("ix_assessment_scores_unit", "campaign_id", "sheet_id", "unit_id", "assessed_on"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("event_key", String(300), nullable=False),
    Column("kind", String(40), nullable=False),
    *_times(),
    Column("actor", String(100), nullable=False),  # a unit id, a role, or "rule:<id>"
    Column("obligation_id", String(200)),
    Column("unit_id", String(64)),
    Column("rule_id", String(100)),
    Column("ruleset_hash", String(80), nullable=False),
    Column("plan_hash", String(80), nullable=False),
    Column("workflow_id", String(300), nullable=False),
    Column("run_id", String(100), nullable=False),
    # Canonical JSON text (sorted keys, no spaces), not jsonb: its SHA-256 is then the same
    # computed by Python when written and by PostgreSQL when verified.
    Column("payload", Text, nullable=False),
    Column("payload_digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("campaign_id", "event_key", name="uq_audit_event_key"),
    Index("ix_audit_events_obligation", "campaign_id", "obligation_id"),
)

# -- delivery channels: the outbox and its ledger ---------------------------------------------------
# An action's in-app inbox row is written at once; its e-mail and webhook pushes become rows here,
# written in the same transaction (so an action never exists without its pushes, nor twice), and
# are sent later by the dispatch activity: claim (pending → sending, an attempt row, committed) →
# send → record. A row left in `sending` by an attempt that died is never re-sent: it becomes
# `uncertain` and is listed for a person to check.

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "uncertain")

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(320), nullable=False, unique=True),  # inbox key + "#" + channel
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("recipient", String(64), nullable=False),  # unit id
    Column("channel", String(20), nullable=False),  # email | webhook
    Column("address", Text, nullable=False),  # e-mail address or webhook URL, as it was when the action fired
    Column("secret_env", String(100)),  # webhooks: the environment variable holding the HMAC secret
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("payload", JSONB, nullable=False),  # webhooks: the JSON posted
    *_times(),
    Column("not_before", DateTime(timezone=True), nullable=False),  # server time, quiet hours applied
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')", name="ck_deliveries_status"),
    Index("ix_deliveries_due", "campaign_id", "status", "not_before"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("delivery_id", ForeignKey("deliveries.id"), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(20)),  # sent | retry | failed | uncertain; NULL while in flight
    Column("error", Text),
)

# Attachment bytes are stored once by content (SHA-256), and each delivery refers to them by
# hash and file name: a monthly bulletin PDF e-mailed to 35 units is one blob, and listing the
# ledger never drags file contents along. The reference (sha256 + file name) is what a future
# `documents` table will own; this blob table can then give way to it.
delivery_blobs = Table(
    "delivery_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

delivery_attachments = Table(
    "delivery_attachments",
    metadata,
    Column("delivery_id", ForeignKey("deliveries.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("sha256", ForeignKey("delivery_blobs.sha256"), nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", String(200), nullable=False),
)


documents = Table(
    "documents",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # campaign#kind#ref#format: re-rendering on a retry gives the same bytes and writes nothing.
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("kind", String(30), nullable=False),  # notice | bulletin | ledger | final_report | …
    Column("ref", String(200), nullable=False),  # the notice code, the bulletin month, …
    Column("format", String(10), nullable=False),  # docx | pdf | xlsx
    Column("filename", Text, nullable=False),
    Column("media_type", String(120), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    *_times(),
    Index("ix_documents_ref", "campaign_id", "kind", "ref"),
)


evidence_files = Table(
    "evidence_files",
    metadata,
    # Content-addressed: the same file attached twice (or a retried upload) is stored once.
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(120), nullable=False),
    Column("name", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
