"""The official documents, rendered: 督办通知, monthly 通报 and 台账, the final evaluation report.

Pure functions of their `models.documents` input: the same input gives byte-identical files
(metadata times come from the input's plan dates, zip members are dated the same way), so a
retried activity re-renders the file it stored and its SHA-256 still matches. PDFs need a CJK
font on disk (`fonts.find`); DOCX and XLSX need none.
"""

from activities.documents.bulletin import render_bulletin
from activities.documents.files import RenderedFile, RenderedSet
from activities.documents.final_report import render_final_report
from activities.documents.fonts import CjkFont, FontNotFound
from activities.documents.ledger import render_ledger_xlsx
from activities.documents.notice import render_notice

__all__ = [
    "CjkFont",
    "FontNotFound",
    "RenderedFile",
    "RenderedSet",
    "render_bulletin",
    "render_final_report",
    "render_ledger_xlsx",
    "render_notice",
]
