"""Where each unit is reached outside the application: e-mail, webhook and group robots, per county.

Kept apart from the plan and the unit directory: contact details change more often than the
plan, and a changed address must not change the plan's hash (nor a running campaign). Secrets
never appear here, only the name of the environment variable that holds one.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AnyHttpUrl, Field, StringConstraints, field_validator, model_validator

from models.delivery import PUSH_CHANNELS, DeliveryChannel
from models.frozen import Frozen
from models.plan import UnitId

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s<>,;\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$", max_length=254)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=100)]

_NO_SECRETS = "secrets never go in the contacts file: name the environment variable that holds it in {field}"


class Robot(Frozen):
    """A group robot (企业微信, 钉钉 or 飞书): its URL and the variable holding its secret.

    企业微信: `url` is the robot address without its `key`, `secret_env` holds the key (the key is
    the robot's only credential, so it never sits in this file). 钉钉: `url` as the robot page shows
    it (with its access_token), `secret_env` holds the 加签 secret (SEC…). 飞书: `url` as shown (the
    hook token in its path), `secret_env` holds the 签名校验 secret."""

    url: AnyHttpUrl
    secret_env: EnvName

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"secret", "key", "sign"} & set(data)):
            raise ValueError(_NO_SECRETS.format(field="secret_env"))
        return data


class Contact(Frozen):
    name: str | None = None
    """Who reads it (a desk, a person), for the office's own reference."""
    email: Email | None = None
    webhook: AnyHttpUrl | None = None
    webhook_secret_env: EnvName | None = None
    """The environment variable holding this webhook's HMAC-SHA256 secret; when not named, requests
    are signed with the service's own DUBAN_WEBHOOK_SECRET (every request is signed either way)."""
    wecom: Robot | None = None
    """企业微信 group robot."""
    dingtalk: Robot | None = None
    """钉钉 custom robot (加签)."""
    feishu: Robot | None = None
    """飞书 custom bot (签名校验)."""
    channels: tuple[DeliveryChannel, ...] | None = None
    """The channels to push on, besides the inbox; every channel with an address when not given."""

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("webhook_secret" in data or "secret" in data):
            raise ValueError(_NO_SECRETS.format(field="webhook_secret_env"))
        return data

    @field_validator("wecom")
    @classmethod
    def _wecom_key_not_in_clear(cls, robot: Robot | None) -> Robot | None:
        if robot is not None and any(k.lower() == "key" for k, _ in robot.url.query_params()):
            raise ValueError(
                "the robot's key is its secret: give the URL without ?key=… and name the "
                "environment variable that holds the key in secret_env"
            )
        return robot

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        have = self.addresses()
        for ch in self.channels or ():
            if ch is DeliveryChannel.inbox:
                continue
            if have.get(ch) is None:
                what = "email address" if ch is DeliveryChannel.email else f"{ch.value} URL"
                raise ValueError(f"channel {ch.value} is chosen but no {what} is given")
        return self

    def addresses(self) -> dict[DeliveryChannel, object | None]:
        """Each push channel → what reaches it here (None: not reachable that way)."""
        return {
            DeliveryChannel.email: self.email,
            DeliveryChannel.webhook: self.webhook,
            DeliveryChannel.wecom: self.wecom,
            DeliveryChannel.dingtalk: self.dingtalk,
            DeliveryChannel.feishu: self.feishu,
        }

    def robot(self, channel: DeliveryChannel) -> Robot | None:
        """The group robot for a robot channel."""
        found = self.addresses().get(channel)
        return found if isinstance(found, Robot) else None

    def push_channels(self) -> tuple[DeliveryChannel, ...]:
        """The channels to push on, in a fixed order, each with its address."""
        chosen = self.channels if self.channels is not None else PUSH_CHANNELS
        have = self.addresses()
        return tuple(ch for ch in PUSH_CHANNELS if ch in chosen and have[ch] is not None)


class ContactBook(Frozen):
    """A county's contacts: unit id → Contact. Units without an entry get the inbox only."""

    region: str
    directory: str | None = None
    """The unit directory file the unit ids come from, relative to this file."""
    units: dict[UnitId, Contact] = Field(default_factory=dict)

    def for_unit(self, unit_id: str) -> Contact | None:
        return self.units.get(unit_id)
