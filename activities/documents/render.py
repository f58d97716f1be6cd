"""A document's files: DOCX and PDF from the same blocks."""

from __future__ import annotations

from activities.documents import as_docx, as_pdf
from activities.documents.files import RenderedFile, RenderedSet, rendered
from activities.documents.fonts import CjkFont
from activities.documents.layout import Document


def document_set(doc: Document, font: CjkFont | None = None, *extra: RenderedFile) -> RenderedSet:
    pdf = rendered(doc.stem, "pdf", as_pdf.render(doc, font))  # first: a missing font fails before any work
    files = {"docx": rendered(doc.stem, "docx", as_docx.render(doc)), "pdf": pdf}
    files.update({f.name.rsplit(".", 1)[1]: f for f in extra})
    return RenderedSet(files)
