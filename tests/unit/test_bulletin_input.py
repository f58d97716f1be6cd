"""A bulletin's papers rendered from the input its audit row records are the papers rendered at
publication (issue 16.1): the 通报 and 台账 documents survive the chain's JSON unchanged, byte for
byte once rendered."""

from __future__ import annotations

import json

from documents_support import bulletin, ledger

from activities.documents import render_bulletin, render_ledger_xlsx
from activities.paperwork.bulletin_request import document_input, pack_ledger, render_papers, unpack_ledger
from models.documents import Ledger


def test_papers_from_the_chains_input_are_the_papers_of_the_documents() -> None:
    b, led = bulletin(), ledger()
    # As the chain keeps it: canonical JSON text, read back.
    record = {"document": json.loads(json.dumps(document_input(b, led), ensure_ascii=False, sort_keys=True))}
    files, sheet = render_papers(record)
    direct = render_bulletin(b)
    assert {f: files[f].data for f in ("docx", "pdf")} == {f: direct[f].data for f in ("docx", "pdf")}
    assert sheet.data == render_ledger_xlsx(led).data


def test_the_ledgers_input_is_recorded_as_a_compact_table_that_reads_back_the_same() -> None:
    led = ledger()
    # A county's: the same tasks in every town, every obligation id under the campaign's.
    towns = [f"镇{i}" for i in range(20)]
    rows = tuple(
        r.model_copy(update={"obligation_id": f"{r.obligation_id}-{i}", "unit_name": t})
        for i, t in enumerate(towns)
        for r in led.rows
    )
    county = Ledger.model_validate({**led.model_dump(), "rows": [r.model_dump() for r in rows]})
    packed = json.loads(json.dumps(pack_ledger(county), ensure_ascii=False, sort_keys=True))
    assert unpack_ledger(packed) == county
    plain = len(json.dumps(county.model_dump(mode="json"), ensure_ascii=False))
    assert len(json.dumps(packed, ensure_ascii=False)) < plain / 2
    assert all(r.obligation_id.startswith(f"{county.campaign_id}/") for r in county.rows)
    assert not any(s.startswith(f"{county.campaign_id}/") for s in packed["strings"])
