"""A bulletin's papers rendered from the input its audit row records are the papers rendered at
publication (issue 16.1): the 通报 and 台账 documents survive the chain's JSON unchanged, byte for
byte once rendered."""

from __future__ import annotations

import json

from documents_support import bulletin, ledger

from activities.documents import render_bulletin, render_ledger_xlsx
from activities.paperwork.bulletin_request import document_input, render_papers


def test_papers_from_the_chains_input_are_the_papers_of_the_documents() -> None:
    b, led = bulletin(), ledger()
    # As the chain keeps it: canonical JSON text, read back.
    record = {"document": json.loads(json.dumps(document_input(b, led), ensure_ascii=False, sort_keys=True))}
    files, sheet = render_papers(record)
    direct = render_bulletin(b)
    assert {f: files[f].data for f in ("docx", "pdf")} == {f: direct[f].data for f in ("docx", "pdf")}
    assert sheet.data == render_ledger_xlsx(led).data
