"""The summary as a PDF a home physician can read, in Noto Sans CJK.

The patient's names are printed as recorded: the passport name and the name
in their own script (Japanese, Chinese, Korean) under the title on the first
page and at the foot of every page, with the patient code and the page
number, so a loose page still says whose record it is. The font is the
operating system's (`core.exports.pdf_font`); without it the export is
refused with one sentence naming the package, never printed with '?'.

A character the font does not have (a Thai or Arabic name, an emoji) is
printed as its plain form where one exists ("ﬁ" -> "fi"), else as '?'; a PDF
that lost characters says so at the top and points to the Markdown summary,
which keeps the exact text.
"""

from __future__ import annotations

import string
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core.exports.document import Bullet, BulletList, Document, Heading, Paragraph, Table
from core.exports.pdf_font import CjkFont, face_for, find_cjk_font, truetype_cut

LOST_CHARACTERS_NOTE = (
    "Some characters (outside the Latin, Greek, Cyrillic, Chinese, Japanese and Korean "
    "scripts) cannot be printed in this PDF and are shown as '?'. The Markdown summary "
    "keeps the exact text."
)

# Plain forms for punctuation, used only when the font lacks the character itself.
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

# Always in the embedded cut: page numbers and every fallback ('?', the plain forms).
_ALWAYS = string.printable.strip() + " "

_FAMILY = "aftercare-cjk"
_HEADING_SIZES = {1: 15.0, 2: 13.0, 3: 11.0}
_NAMES_SIZE = 12.0
_BODY_SIZE = 10.0
_TABLE_SIZE = 8.5
_FOOTER_SIZE = 8.0
_LINE = 5.0
_INDENT = 5.0


def render_pdf(
    document: Document, *, footer: str, created_at: datetime, font: CjkFont | None = None
) -> bytes:
    """The document as PDF bytes; `footer` is printed on every page after the
    document's running names and before the page number.

    `font` defaults to the Noto Sans CJK installed on this machine; raises
    `PdfFontMissing` (a refusal saying which package to install) when there is none.
    `created_at` becomes the PDF's creation date, so the same export at the
    same instant gives the same bytes.
    """
    font = font or find_cjk_font()
    texts = list(_texts(document, footer))
    face = face_for(document.language, "".join(texts))
    with tempfile.TemporaryDirectory(prefix="aftercare-pdf-") as folder:
        # fpdf2 reads a font from a file, and keeps reading it until the PDF is out.
        regular, printable = _cut(font.regular, face, texts, Path(folder) / "regular.ttf")
        printer = _Printer(frozenset(printable))
        bold, _ = _cut(font.bold, face, _bold_texts(document, printer), Path(folder) / "bold.ttf")
        footer_line = " - ".join(t for t in (document.running_names, footer) if t)
        pdf = _SummaryPdf(footer=printer.text(footer_line))
        pdf.add_font(_FAMILY, "", regular)
        pdf.add_font(_FAMILY, "B", bold)
        pdf.set_title(printer.text(document.title))
        pdf.set_creator("aftercare")
        pdf.set_creation_date(created_at)
        pdf.set_auto_page_break(auto=True, margin=18)
        pdf.set_margins(left=18, top=18, right=18)
        pdf.add_page()
        _heading(pdf, printer, Heading(document.title, 1))
        if document.running_names:
            pdf.set_font(_FAMILY, style="B", size=_NAMES_SIZE)
            _lines(pdf, printer.text(document.running_names), _LINE + 1)
            pdf.ln(1.5)
        if any(printer.lost(text) for text in _printed_texts(document, footer_line, printer)):
            _paragraph(pdf, printer, Paragraph(LOST_CHARACTERS_NOTE))
        for block in document.blocks:
            if isinstance(block, Heading):
                _heading(pdf, printer, block)
            elif isinstance(block, Paragraph):
                _paragraph(pdf, printer, block)
            elif isinstance(block, BulletList):
                _bullets(pdf, printer, block)
            else:
                _table(pdf, printer, block)
        return bytes(pdf.output())


def _cut(font_file: Path, face: int, texts: Iterable[str], to: Path) -> tuple[Path, str]:
    """Write the face's cut for `texts` (with every fallback form) to `to`."""
    wanted = set(_ALWAYS)
    for text in texts:
        for char in text:
            wanted.add(char)
            wanted.update(unicodedata.normalize("NFKD", char))
    content, printable = truetype_cut(font_file, face, wanted)
    to.write_bytes(content)
    return to, printable


class _Printer:
    """Text as the embedded font can print it."""

    def __init__(self, printable: frozenset[str]) -> None:
        self._printable = printable

    def text(self, text: str) -> str:
        """`text` in characters the font has."""
        return self._printed(text)[0]

    def lost(self, text: str) -> bool:
        """Whether printing `text` loses any character (shows '?')."""
        return self._printed(text)[1]

    def _printed(self, text: str) -> tuple[str, bool]:
        out: list[str] = []
        lost = False
        for char in text:
            if char != "\n" and unicodedata.category(char) == "Cc":
                out.append(" ")  # a tab or stray control byte is spacing, not content
                continue
            if char == "\n" or self._has(char):
                out.append(char)
                continue
            plain = _PLAIN.get(char)
            # Compatibility decomposition: "ﬁ" -> "fi", a lone accent's letter.
            base = plain or "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            if base and self._has(base):
                out.append(base)
            else:
                out.append("?")
                lost = True
        return "".join(out), lost

    def _has(self, text: str) -> bool:
        return all(c in self._printable for c in text)

    def item(self, item: Bullet) -> str:
        """The item's text, or its words for the PDF when the font would lose characters."""
        if item.print_text is not None and self.lost(item.text):
            return self.text(item.print_text)
        return self.text(item.text)


class _SummaryPdf(FPDF):
    """A4 pages with the patient and the page number at the foot of each."""

    def __init__(self, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer_text = footer

    def footer(self) -> None:
        """Both names, patient code and 'page n of N' on every page, so loose pages
        stay traceable; a long line is set smaller rather than cut."""
        self.set_y(-12)
        text = f"{self._footer_text} - page {self.page_no()} of {{nb}}"
        size = _FOOTER_SIZE
        self.set_font(_FAMILY, size=size)
        while size > 5 and self.get_string_width(text) > self.epw:
            size -= 0.5
            self.set_font(_FAMILY, size=size)
        self.cell(0, 5, text, align="C")


def _texts(document: Document, footer: str) -> Iterator[str]:
    """Every text the PDF may print, each block's `print_text` included."""
    yield document.title
    yield footer
    if document.running_names:
        yield document.running_names
    yield LOST_CHARACTERS_NOTE
    for block in document.blocks:
        if isinstance(block, Heading | Paragraph):
            yield block.text
        elif isinstance(block, BulletList):
            for item in block.items:
                yield item.text
                if item.print_text is not None:
                    yield item.print_text
                yield from item.details
        else:
            yield from block.header
            for row in block.rows:
                yield from row


def _printed_texts(document: Document, footer_line: str, printer: _Printer) -> Iterator[str]:
    """The texts as chosen for print (an item's `print_text` where it has to stand in)."""
    yield document.title
    yield footer_line
    for block in document.blocks:
        if isinstance(block, Heading | Paragraph):
            yield block.text
        elif isinstance(block, BulletList):
            for item in block.items:
                stands_in = item.print_text is not None and printer.lost(item.text)
                yield item.print_text if stands_in and item.print_text else item.text
                yield from item.details
        else:
            yield from block.header
            for row in block.rows:
                yield from row


def _bold_texts(document: Document, printer: _Printer) -> Iterator[str]:
    yield printer.text(document.title)
    if document.running_names:
        yield printer.text(document.running_names)
    for block in document.blocks:
        if isinstance(block, Heading):
            yield printer.text(block.text)
        elif isinstance(block, Table):
            yield from (printer.text(cell) for cell in block.header)


def _lines(pdf: FPDF, text: str, height: float, indent: float = 0) -> None:
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(pdf.epw - indent, height, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, printer: _Printer, heading: Heading) -> None:
    pdf.set_font(_FAMILY, style="B", size=_HEADING_SIZES.get(heading.level, _BODY_SIZE))
    pdf.ln(2 if heading.level > 2 else 3)
    _lines(pdf, printer.text(heading.text), _LINE + 1)
    pdf.ln(1)


def _paragraph(pdf: FPDF, printer: _Printer, paragraph: Paragraph) -> None:
    pdf.set_font(_FAMILY, size=_BODY_SIZE)
    _lines(pdf, printer.text(paragraph.text), _LINE)
    pdf.ln(1.5)


def _bullets(pdf: FPDF, printer: _Printer, bullets: BulletList) -> None:
    for item in bullets.items:
        pdf.set_font(_FAMILY, size=_BODY_SIZE)
        _lines(pdf, "- " + printer.item(item), _LINE, _INDENT)
        pdf.set_font(_FAMILY, size=_BODY_SIZE - 1)
        for detail in item.details:
            _lines(pdf, printer.text(detail), _LINE, 2 * _INDENT + 2)
    pdf.ln(1.5)


def _table(pdf: FPDF, printer: _Printer, table: Table) -> None:
    pdf.set_font(_FAMILY, size=_TABLE_SIZE)
    # Product names and lot numbers need the room; dose and expiry are short.
    widths = (3.2, 2.2, 2.0, 1.7, 2.2, 1.5) if len(table.header) == 6 else None
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=_LINE - 0.5) as grid:
        for cells in (table.header, *table.rows):
            row = grid.row()
            for cell in cells:
                row.cell(printer.text(cell))
    pdf.ln(2)
