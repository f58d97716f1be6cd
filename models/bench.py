"""Payloads of the raw-engine workflows `duban bench` runs beside a campaign."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TimerStorm(BaseModel):
    """`timers` plain timers in one workflow, every one due at the server instant `due`."""

    model_config = ConfigDict(frozen=True)

    due: datetime
    timers: int = Field(default=15, ge=1)
