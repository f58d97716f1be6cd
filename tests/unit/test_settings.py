"""The one Settings class refuses configurations that would leak a secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from activities.config import Settings


def test_smtp_auth_is_refused_without_starttls() -> None:
    with pytest.raises(ValidationError, match="SMTP AUTH is never sent in clear"):
        Settings(env="test", smtp_username="duban", smtp_password="pw")
    s = Settings(env="test", smtp_username="duban", smtp_password="pw", smtp_starttls=True)
    assert s.smtp_starttls and s.smtp_password is not None


def test_production_refuses_the_default_webhook_secret() -> None:
    common = {"env": "production", "database_url": "postgresql+asyncpg://db/duban", "temporal_address": "t:7233"}
    with pytest.raises(ValidationError, match="DUBAN_WEBHOOK_SECRET must be set"):
        Settings(**common)  # type: ignore[arg-type]
    assert Settings(**common, webhook_secret="a-real-one").webhook_secret == "a-real-one"  # type: ignore[arg-type]
