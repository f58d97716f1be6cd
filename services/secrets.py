"""Encrypted payloads, for auditors: decode an exported history with the key that wrote it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel

from activities import codec, history
from activities.history_files import HistoryFileError, load_histories
from services.audit import campaign_roots
from services.context import Services
from services.errors import Invalid


class Decoded(BaseModel):
    histories: int
    folder: Path


async def decode_histories(ctx: Services, *, source: Path, folder: Path, campaign: str | None = None) -> Decoded:
    """Read the histories in `source` (a folder or one file, as `audit export`, a rehearsal or
    `temporal workflow show --output json` wrote them), decrypt their payloads with the keys in
    DUBAN_CODEC_KEYS, and write them to `folder` in clear, one file per run.

    Refuses (Invalid) without keys, for a file that is not a history, or for a payload no key opens.
    """
    keys = codec.settings_codec(ctx.settings)
    if keys is None:
        raise Invalid("DUBAN_CODEC_KEYS is not set: give the keys the histories were encrypted with")
    roots = campaign_roots(campaign) if campaign else None
    try:
        loaded = await asyncio.to_thread(load_histories, source, roots=roots)
        clear = codec.decode_histories(loaded.histories, keys)
    except (HistoryFileError, OSError) as e:
        raise Invalid(str(e)) from None
    except codec.CodecKeyError as e:
        raise Invalid(f"{source}: {e}") from None
    n = await asyncio.to_thread(history.save, clear, folder)
    return Decoded(histories=n, folder=folder)
