"""The payload codec: encrypted in Temporal's store, decoded with any listed key, rotated safely."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from activities import codec, history
from activities.config import Settings
from services.audit import replay

HISTORIES = Path(__file__).resolve().parents[1] / "replay" / "histories"


def key(tag: str) -> str:
    return f"{tag}:{base64.b64encode(os.urandom(32)).decode()}"


class Refusal(BaseModel):
    unit: str
    text: str


def refusal() -> Refusal:
    return Refusal(unit="西镇人民政府", text="整改报告: roads")


async def test_a_payload_is_encrypted_with_the_current_key_and_decodes() -> None:
    conv = codec.data_converter(key("k1"))
    value = refusal()
    [payload] = await conv.encode([value])
    assert payload.metadata["encoding"] == b"binary/encrypted"
    assert payload.metadata["encryption-key-id"] == b"k1"
    assert "西镇".encode() not in payload.data and b"json" not in payload.data
    assert (await conv.decode([payload], [Refusal]))[0] == value


async def test_rotation_keeps_old_payloads_readable_and_writes_with_the_new_key() -> None:
    old = key("2026a")
    [sealed] = await codec.data_converter(old).encode([refusal()])
    rotated = codec.data_converter(f"{key('2026b')},{old}")
    assert (await rotated.decode([sealed], [Refusal]))[0] == refusal()
    [fresh] = await rotated.encode([refusal()])
    assert fresh.metadata["encryption-key-id"] == b"2026b"
    with pytest.raises(codec.CodecKeyError, match="2026b"):  # the old key alone cannot read the new
        await codec.data_converter(old).decode([fresh], [Refusal])


async def test_clear_payloads_written_before_the_codec_still_decode() -> None:
    [clear] = await codec.data_converter(None).encode([refusal()])
    assert (await codec.data_converter(key("k")).decode([clear], [Refusal]))[0] == refusal()


async def test_a_wrong_or_altered_payload_is_refused_not_misread() -> None:
    [sealed] = await codec.data_converter(key("k")).encode([refusal()])
    with pytest.raises(codec.CodecKeyError, match="does not decrypt"):
        await codec.data_converter(key("k")).decode([sealed], [Refusal])  # same id, another key
    good = codec.codec_from(key("j"))
    assert good is not None
    [mine] = await good.encode([(await codec.data_converter(None).encode([refusal()]))[0]])
    mine.data = mine.data[:-1] + bytes([mine.data[-1] ^ 1])
    with pytest.raises(codec.CodecKeyError):
        good.decrypt(mine)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1", "not `id:base64key`"),
        ("k1:!!!", "not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "5 bytes"),
        (f"{key('a')},{key('a')}", "twice"),
        (" , ", "names no key"),
    ],
)
def test_bad_keys_are_refused_at_start_up(text: str, message: str) -> None:
    with pytest.raises(codec.CodecKeyError, match=message):
        codec.parse_keys(text)
    with pytest.raises(ValidationError, match=message):
        Settings(codec_keys=text)


def test_unset_means_no_codec() -> None:
    assert codec.codec_from(None) is None and codec.codec_from("") is None
    assert codec.for_settings(Settings()).payload_codec is None
    assert codec.for_settings(Settings(codec_keys=key("k"))).payload_codec is not None


async def test_encrypted_histories_hold_no_clear_text_and_replay_once_decoded() -> None:
    saved = history.load(HISTORIES)
    c = codec.codec_from(key("k"))
    assert c is not None
    sealed = codec.encode_histories(saved, c)
    raw = [h.to_json() for h in sealed]
    clear = [h.to_json() for h in saved]
    # Payload data is base64 in the JSON: the mini plan's unit names are there in clear, not after.
    for words in (["东镇", "西镇"], ["mini-2021"]):
        found_clear = [w for w in words if _in_payloads(clear, w)]
        assert found_clear and not [w for w in words if _in_payloads(raw, w)]
    payloads = [p for h in sealed for e in h.events for p in codec._payloads(e)]
    assert payloads and all(p.metadata.get("encoding") == codec.ENCODING for p in payloads)
    decoded = codec.decode_histories(sealed, c)
    # Compared as JSON values: a payload's metadata is a protobuf map, and the order a map's
    # entries come out in follows upb's hash table, not the order they were written in.
    assert [json.loads(h.to_json()) for h in decoded] == [json.loads(h.to_json()) for h in saved]
    report = await replay(decoded)
    assert report.replayed == len(saved) and report.failures == []


def _in_payloads(histories: list[str], word: str) -> bool:
    """Whether `word` is in any payload's data (base64 in history JSON) of the histories."""
    found = False

    def walk(node: object) -> None:
        nonlocal found
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, str) and "metadata" in node:
                found = found or word.encode() in base64.b64decode(data)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for h in histories:
        walk(json.loads(h))
    return found


async def test_a_failure_message_is_encrypted_too() -> None:
    from temporalio.api.failure.v1 import Failure
    from temporalio.exceptions import ApplicationError

    conv = codec.data_converter(key("k"))
    failure = Failure()
    await conv.encode_failure(ApplicationError("西镇人民政府 may not complete roads", type="InvalidInput"), failure)
    assert "西镇".encode() not in failure.SerializeToString()
    assert failure.encoded_attributes.metadata["encoding"] == codec.ENCODING
    back = await conv.decode_failure(failure)
    assert isinstance(back, ApplicationError) and back.message == "西镇人民政府 may not complete roads"
    assert back.type == "InvalidInput"
    # In an exported history, the failure's attribute is a payload like the others: decoded too.
    [p] = codec._payloads(failure)
    assert p is failure.encoded_attributes


def test_payloads_are_the_stock_pydantic_bytes_with_one_cache_of_type_adapters_per_process() -> None:
    """The SDK builds a payload converter per workflow activation: ours share one JSON converter,
    so a type's adapter is built once, and the bytes are those the SDK's own converter writes (so
    every saved history still reads)."""
    from temporalio.contrib.pydantic import PydanticPayloadConverter

    from models.payloads import EngineCost

    value = [EngineCost(workflows=3, activities=5)]
    ours, theirs = codec.SharedPydanticPayloadConverter(), PydanticPayloadConverter()
    assert ours.to_payloads([value]) == theirs.to_payloads([value])
    assert ours.from_payloads(theirs.to_payloads([value]), [list[EngineCost]]) == [value]
    first = codec.SharedPydanticPayloadConverter()
    second = codec.PAYLOADS.payload_converter_class()
    assert first.converters[b"json/plain"] is second.converters[b"json/plain"]
