"""The wake-up's writes that run as local activities, and what each returns.

A local activity's history marker records its result but not its input, and `audit verify`
derives the audit keys from the input (`activities.history`): so each local effect returns the
input it was given beside the ordinary activity's result. This table is the one place that pairs
an effect with its local name and its echoing result; workflows (`workflows.common.write_effect`)
and the verifier both read it.
"""

from __future__ import annotations

from typing import NamedTuple

from models.payloads.activity import DeliveredHere, MirroredHere
from models.payloads.base import Act, Payload
from models.payloads.rectification import OpenedHere, StepRecorded


class LocalEffect(NamedTuple):
    act: Act
    """The local activity's name."""
    returns: type[Payload]
    """Its result: `input` (what it was given) and `result` (what the ordinary activity returns)."""


LOCAL_EFFECTS: dict[Act, LocalEffect] = {
    Act.deliver: LocalEffect(Act.deliver_here, DeliveredHere),
    Act.mirror: LocalEffect(Act.mirror_here, MirroredHere),
    Act.rectification_open: LocalEffect(Act.rectification_open_here, OpenedHere),
    Act.rectification_step: LocalEffect(Act.rectification_step_here, StepRecorded),
}
"""Per ordinary effect, the local activity that does the same work and echoes its input."""
