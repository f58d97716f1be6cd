"""Payloads encrypted in Temporal's store: an AES-GCM payload codec with a key id per payload.

Plans, reports, unit names and evidence references travel in workflow and activity payloads, so
without a codec they sit in clear in Temporal's database and in every exported history. With
`DUBAN_CODEC_KEYS` set, the client and the worker (both built from `data_converter`) encrypt each
payload whole (its metadata included) and say which key did it, in the shape of Temporal's
encryption sample: metadata `encoding: binary/encrypted` and `encryption-key-id`, data = 12-byte
nonce + ciphertext and tag. The first key encrypts; every key listed decrypts, so a key is
rotated by putting a new one first and keeping the old ones for as long as histories written
with them are kept (a campaign plus its audit period). Unset, nothing is encrypted, and payloads
that were never encrypted always decode, so a campaign started before the codec keeps running.

Temporal's own server-side fields (workflow ids, types, task queues, search attributes, failure
messages unless encoded) are not payloads: ids carry campaign and unit ids, not names or reports.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
)

if TYPE_CHECKING:
    from activities.config import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
_PAYLOAD = Payload.DESCRIPTOR.full_name


class CodecKeyError(ValueError):
    """The key list in DUBAN_CODEC_KEYS does not read, or a payload names a key not in it."""


def parse_keys(text: str) -> dict[str, bytes]:
    """`id:base64key,id:base64key,…` (first = the one that encrypts) → {id: key}, in order.

    Keys are 16, 24 or 32 bytes (AES-128/192/256); `python -c "import os,base64;
    print(base64.b64encode(os.urandom(32)).decode())"` makes one.
    """
    keys: dict[str, bytes] = {}
    for n, item in enumerate(filter(None, (part.strip() for part in text.split(","))), start=1):
        key_id, sep, b64 = item.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise CodecKeyError(f"DUBAN_CODEC_KEYS: entry {n} is not `id:base64key`")
        try:
            key = base64.b64decode(b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CodecKeyError(f"DUBAN_CODEC_KEYS: key {key_id!r} is not base64") from None
        if len(key) not in (16, 24, 32):
            raise CodecKeyError(f"DUBAN_CODEC_KEYS: key {key_id!r} is {len(key)} bytes, not 16, 24 or 32")
        if key_id in keys:
            raise CodecKeyError(f"DUBAN_CODEC_KEYS: key id {key_id!r} is listed twice")
        keys[key_id] = key
    if not keys:
        raise CodecKeyError("DUBAN_CODEC_KEYS is set but names no key")
    return keys


class EncryptionCodec(PayloadCodec):
    """AES-GCM over each serialized payload; the first key encrypts, any listed key decrypts."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        super().__init__()
        if not keys:
            raise CodecKeyError("an encryption codec needs at least one key")
        self.key_id = next(iter(keys))
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)  # random per payload: never reused with one key
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(deterministic=True), None)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: self.key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before the codec was turned on: left as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(f"a payload was encrypted with key {key_id!r}, which DUBAN_CODEC_KEYS does not hold")
        try:
            clear = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise CodecKeyError(f"a payload does not decrypt with key {key_id!r} (wrong key or altered)") from None
        return Payload.FromString(clear)


def codec_from(keys: str | None) -> EncryptionCodec | None:
    """The codec for a DUBAN_CODEC_KEYS value, or None when it is unset or empty."""
    return EncryptionCodec(parse_keys(keys)) if keys and keys.strip() else None


class SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """The SDK's pydantic payload converter, with one JSON converter for the whole process.

    The SDK builds a new payload converter from its class for every workflow activation (and
    again for each serialization context), and the stock pydantic one builds a fresh JSON
    converter each time, with an empty cache of type adapters: every payload of every
    activation then built its `TypeAdapter` anew. Sharing the JSON converter keeps one cache (the
    SDK's `lru_cache`, thread-safe) for the process; the converters around it hold no state."""

    _json = PydanticJSONPlainPayloadConverter()

    def __init__(self) -> None:
        CompositePayloadConverter.__init__(
            self,
            *(
                self._json if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            ),
        )


PAYLOADS = DataConverter(payload_converter_class=SharedPydanticPayloadConverter)
"""duban's payloads in clear: pydantic models as JSON, as `temporalio.contrib.pydantic`'s
converter writes them (the same bytes, so every saved history reads the same)."""


def data_converter(keys: str | None) -> DataConverter:
    """duban's data converter (pydantic payloads), encrypted when `keys` names any.

    With a codec, failures' messages and stack traces move into an encoded (so encrypted)
    attribute too: a refusal's message names units and what they sent. Readers decode it either
    way, so histories from before the codec still read."""
    codec = codec_from(keys)
    if codec is None:
        return PAYLOADS
    return dataclasses.replace(
        PAYLOADS,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def for_settings(settings: Settings) -> DataConverter:
    """The data converter every client duban builds uses (CLI, worker, rehearsal, replay)."""
    return data_converter(settings.codec_keys.get_secret_value() if settings.codec_keys else None)


def settings_codec(settings: Settings) -> EncryptionCodec | None:
    return codec_from(settings.codec_keys.get_secret_value() if settings.codec_keys else None)


def decode_histories(histories: Iterable[WorkflowHistory], codec: EncryptionCodec | None) -> list[WorkflowHistory]:
    """The histories with every payload in their events decrypted (what the replayer and the
    audit's cross-check read); unchanged without a codec. Raises CodecKeyError for a payload no
    listed key opens."""
    out = list(histories)
    if codec is None:
        return out
    decoded = []
    for h in out:
        # A copy, to leave the input alone. A payload's metadata is a protobuf map: its entries come
        # out of to_json in hash-table order, so compare decoded histories as JSON values, not text.
        events = [type(e).FromString(e.SerializeToString(deterministic=True)) for e in h.events]
        for e in events:
            for p in _payloads(e):
                p.CopyFrom(codec.decrypt(p))
        decoded.append(WorkflowHistory(workflow_id=h.workflow_id, events=events))
    return decoded


def encode_histories(histories: Iterable[WorkflowHistory], codec: EncryptionCodec) -> list[WorkflowHistory]:
    """The histories as a codec would have stored them (for tests and a one-off re-encryption)."""
    out = []
    for h in histories:
        events = [type(e).FromString(e.SerializeToString(deterministic=True)) for e in h.events]
        for e in events:
            for p in _payloads(e):
                if p.metadata.get("encoding") != ENCODING:
                    p.CopyFrom(codec.encrypt(p))
        out.append(WorkflowHistory(workflow_id=h.workflow_id, events=events))
    return out


def _payloads(message: Message) -> list[Payload]:
    """Every Payload inside `message`, at any depth (inputs, results, headers, memos, markers…),
    found from the protobuf descriptors so that no event type is forgotten."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        entry = field.message_type
        if entry is None:
            continue  # a scalar
        if entry.GetOptions().map_entry:
            inner = entry.fields_by_name["value"].message_type
            if inner is not None:
                found += _each(list(value.values()), inner)
            continue
        found += _each(list(value) if field.is_repeated else [value], entry)
    return found


def _each(items: list[Any], descriptor: Descriptor) -> list[Payload]:
    if descriptor.full_name == _PAYLOAD:
        return items
    return [p for item in items for p in _payloads(item)]
