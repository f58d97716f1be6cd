"""Where each unit is reached outside the application: e-mail and webhook, per county.

Kept apart from the plan and the unit directory: contact details change more often than the
plan, and a changed address must not change the plan's hash (nor a running campaign). Secrets
never appear here, only the name of the environment variable that holds one.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AnyHttpUrl, Field, StringConstraints, model_validator

from models.delivery import PUSH_CHANNELS, DeliveryChannel
from models.frozen import Frozen
from models.plan import UnitId

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s<>,;\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$", max_length=254)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=100)]


class Contact(Frozen):
    name: str | None = None
    """Who reads it (a desk, a person), for the office's own reference."""
    email: Email | None = None
    webhook: AnyHttpUrl | None = None
    webhook_secret_env: EnvName | None = None
    """The environment variable holding this webhook's HMAC-SHA256 secret; when not named, requests
    are signed with the service's own DUBAN_WEBHOOK_SECRET (every request is signed either way)."""
    channels: tuple[DeliveryChannel, ...] | None = None
    """The channels to push on, besides the inbox; every channel with an address when not given."""

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("webhook_secret" in data or "secret" in data):
            raise ValueError(
                "secrets never go in the contacts file: name the environment variable that holds "
                "it in webhook_secret_env"
            )
        return data

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        for ch in self.channels or ():
            if ch is DeliveryChannel.email and self.email is None:
                raise ValueError("channel email is chosen but no email address is given")
            if ch is DeliveryChannel.webhook and self.webhook is None:
                raise ValueError("channel webhook is chosen but no webhook URL is given")
        return self

    def push_channels(self) -> tuple[DeliveryChannel, ...]:
        """The channels to push on, in a fixed order, each with its address."""
        chosen = self.channels if self.channels is not None else PUSH_CHANNELS
        have = {DeliveryChannel.email: self.email, DeliveryChannel.webhook: self.webhook}
        return tuple(ch for ch in PUSH_CHANNELS if ch in chosen and have[ch] is not None)


class ContactBook(Frozen):
    """A county's contacts: unit id → Contact. Units without an entry get the inbox only."""

    region: str
    directory: str | None = None
    """The unit directory file the unit ids come from, relative to this file."""
    units: dict[UnitId, Contact] = Field(default_factory=dict)

    def for_unit(self, unit_id: str) -> Contact | None:
        return self.units.get(unit_id)
