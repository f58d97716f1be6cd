"""`duban audit decode`: an auditor with the key reads encrypted histories; without it, a clear
refusal (exit 2), never a traceback; a DUBAN_CODEC_KEYS that does not read is named."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from activities import codec, history
from tests.e2e.conftest import Duban, clean_env

pytestmark = pytest.mark.e2e
SAVED = Path(__file__).resolve().parents[1] / "replay" / "histories"


def test_decode_with_the_key_and_refuse_without(duban: Duban, tmp_path: Path) -> None:
    keys = f"k2026:{base64.b64encode(os.urandom(32)).decode()}"
    c = codec.codec_from(keys)
    assert c is not None
    clear = history.load(SAVED)
    history.save(codec.encode_histories(clear, c), tmp_path / "sealed")
    assert {h.run_id: h.to_json() for h in history.load(tmp_path / "sealed")} != {h.run_id: h.to_json() for h in clear}
    r = duban("audit", "decode", tmp_path / "sealed", "--out", tmp_path / "clear", env=clean_env(DUBAN_CODEC_KEYS=keys))
    assert r.returncode == 0, r.stderr
    assert f"{len(clear)} histories decoded" in r.stdout
    # Compared as JSON values, not text: a map's key order in the text is not part of the history.
    back = {h.run_id: json.loads(h.to_json()) for h in history.load(tmp_path / "clear")}
    assert back == {h.run_id: json.loads(h.to_json()) for h in clear}

    r = duban("audit", "decode", tmp_path / "sealed", "--out", tmp_path / "no")
    assert r.returncode == 2 and "DUBAN_CODEC_KEYS is not set" in r.stderr and "Traceback" not in r.stderr
    other = f"k2026:{base64.b64encode(os.urandom(32)).decode()}"
    r = duban("audit", "decode", tmp_path / "sealed", "--out", tmp_path / "no", env=clean_env(DUBAN_CODEC_KEYS=other))
    assert r.returncode == 2 and "does not decrypt with key 'k2026'" in r.stderr and "Traceback" not in r.stderr
    r = duban("audit", "decode", tmp_path / "sealed", "--out", tmp_path / "no", env=clean_env(DUBAN_CODEC_KEYS="k1"))
    assert r.returncode == 2 and "DUBAN_CODEC_KEYS: entry 1 is not `id:base64key`" in r.stderr
    assert "Traceback" not in r.stderr
