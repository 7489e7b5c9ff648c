"""The summary as a PDF, laid out with fpdf2's built-in Helvetica.

The core fonts carry Latin-1 only, and the clinic ships no font files, so
every string goes through `latin1_text` first: typographic punctuation is
replaced by its plain form, accents the font lacks are dropped ("ō" -> "o"),
and anything else (a Japanese or Chinese name) becomes "?". A PDF that lost
characters says so at the top and points to the Markdown summary, which keeps
the exact text; it never fails to render.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core.exports.document import Bullet, BulletList, Document, Heading, Paragraph, Table

LOST_CHARACTERS_NOTE = (
    "Some characters (for example names in non-Latin script) cannot be printed in "
    "this PDF and are shown as '?'. The Markdown summary keeps the exact text."
)

# Plain forms for punctuation that text pasted from messengers often carries.
_PLAIN = {
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2022": "-",
    "\u2026": "...",
    "\u2212": "-",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u00a0": " ",
}

_HEADING_SIZES = {1: 15.0, 2: 13.0, 3: 11.0}
_BODY_SIZE = 10.0
_TABLE_SIZE = 8.5
_LINE = 5.0
_INDENT = 5.0


def latin1_text(text: str) -> tuple[str, bool]:
    """`text` in characters the core fonts can print, and whether any were lost."""
    out: list[str] = []
    lost = False
    for char in text:
        if char != "\n" and unicodedata.category(char) == "Cc":
            out.append(" ")  # a tab or stray control byte is spacing, not content
            continue
        plain = _PLAIN.get(char, char)
        if _is_latin1(plain):
            out.append(plain)
            continue
        # Compatibility decomposition: full-width "Ａ" -> "A", "ō" -> "o" + macron.
        base = "".join(
            c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c)
        )
        if base and _is_latin1(base):
            out.append(base)
        else:
            out.append("?")
            lost = True
    return "".join(out), lost


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def render_pdf(document: Document, *, footer: str, created_at: datetime) -> bytes:
    """The document as PDF bytes; `footer` is printed on every page beside the page number.

    `created_at` becomes the PDF's creation date, so the same export at the
    same instant gives the same metadata.
    """
    lost = any(latin1_text(text)[1] for text in _texts(document, footer))
    pdf = _SummaryPdf(footer=latin1_text(footer)[0])
    pdf.set_title(latin1_text(document.title)[0])
    pdf.set_creator("aftercare")
    pdf.set_creation_date(created_at)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(left=18, top=18, right=18)
    pdf.add_page()
    _heading(pdf, Heading(document.title, 1))
    if lost:
        _paragraph(pdf, Paragraph(LOST_CHARACTERS_NOTE), style="I")
    for block in document.blocks:
        if isinstance(block, Heading):
            _heading(pdf, block)
        elif isinstance(block, Paragraph):
            _paragraph(pdf, block)
        elif isinstance(block, BulletList):
            _bullets(pdf, block)
        else:
            _table(pdf, block)
    return bytes(pdf.output())


class _SummaryPdf(FPDF):
    """A4 pages with the patient and the page number at the foot of each."""

    def __init__(self, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer_text = footer

    def footer(self) -> None:
        """Patient code and 'page n of N' on every page, so loose pages stay traceable."""
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, f"{self._footer_text} - page {self.page_no()} of {{nb}}", align="C")


def _texts(document: Document, footer: str) -> Iterator[str]:
    yield document.title
    yield footer
    for block in document.blocks:
        if isinstance(block, Heading | Paragraph):
            yield block.text
        elif isinstance(block, BulletList):
            for item in block.items:
                yield _printed(item)
                yield from item.details
        else:
            yield from block.header
            for row in block.rows:
                yield from row


def _printed(item: Bullet) -> str:
    """The item's text, or its words for the PDF when the fonts would lose characters."""
    if item.print_text is not None and latin1_text(item.text)[1]:
        return item.print_text
    return item.text


def _heading(pdf: FPDF, heading: Heading) -> None:
    pdf.set_font("Helvetica", style="B", size=_HEADING_SIZES.get(heading.level, _BODY_SIZE))
    pdf.ln(2 if heading.level > 2 else 3)
    pdf.multi_cell(0, _LINE + 1, latin1_text(heading.text)[0], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _paragraph(pdf: FPDF, paragraph: Paragraph, style: str = "") -> None:
    pdf.set_font("Helvetica", style=style, size=_BODY_SIZE)
    pdf.multi_cell(0, _LINE, latin1_text(paragraph.text)[0], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)


def _bullets(pdf: FPDF, bullets: BulletList) -> None:
    pdf.set_font("Helvetica", size=_BODY_SIZE)
    for item in bullets.items:
        _indented(pdf, "- " + _printed(item), _INDENT)
        for detail in item.details:
            _indented(pdf, detail, 2 * _INDENT + 2, size=_BODY_SIZE - 1)
    pdf.ln(1.5)


def _indented(pdf: FPDF, text: str, indent: float, size: float = _BODY_SIZE) -> None:
    pdf.set_font("Helvetica", size=size)
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(
        pdf.epw - indent, _LINE, latin1_text(text)[0], new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )


def _table(pdf: FPDF, table: Table) -> None:
    pdf.set_font("Helvetica", size=_TABLE_SIZE)
    # Product names and lot numbers need the room; dose and expiry are short.
    widths = (3.2, 2.2, 2.0, 1.7, 2.2, 1.5) if len(table.header) == 6 else None
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=_LINE - 0.5) as grid:
        for cells in (table.header, *table.rows):
            row = grid.row()
            for cell in cells:
                row.cell(latin1_text(cell)[0])
    pdf.ln(2)
