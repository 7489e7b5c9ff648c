"""Reading a CSV file an admin hands in (patients, products): its text, its header,
its rows, and a problem said by line and column.

The patient file and the products file are read the same way so that a
spreadsheet saved wrong (not UTF-8, semicolons, a column misspelt) is told the
same thing whichever file it is, with the line a person finds it on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from core.plain_text import shown

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to a spreadsheet: an export writes
it after a "'", and the import reads it without that "'"."""


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, header); `str()` is one line."""


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one row (or, in `CheckedFile.warnings`, one thing to check)."""

    line: int
    """The line of the file the row starts on; the header is line 1."""
    column: str
    """The column at fault, or "row" for the row as a whole."""
    problem: str
    source: str = ""
    """The products file, named; empty for the patient file (the one the command names)."""

    def __str__(self) -> str:
        said = f"line {self.line}: {self.column}: {self.problem}"
        return f"{self.source}: {said}" if self.source else said


def decode_csv(data: bytes, source: str) -> str:
    """The file's text: UTF-8, with or without a byte-order mark.

    Raises CsvFileError naming the line of the first undecodable byte.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            f"{source}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8; "
            "save the file as CSV UTF-8"
        ) from None


def data_rows(
    text: str, source: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line, header names, cells) of each data row that is not blank."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvFileError(f"{source}: empty file; the first line must be the header")
        names = _check_header(header, source, required, optional)
        while True:
            line = reader.line_num + 1  # a quoted field may span lines: report where the row starts
            try:
                record = next(reader)
            except StopIteration:
                return
            if any(cell.strip() for cell in record):
                yield line, names, record
    except csv.Error as exc:
        raise CsvFileError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None


def _check_header(
    header: list[str], source: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[str]:
    names = [cell.strip().lower() for cell in header]
    if len(names) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs")):
            if separator in names[0]:
                raise CsvFileError(
                    f"{source}: line 1: the columns are separated by {name}; "
                    "save the file as comma-separated CSV (UTF-8)"
                )
    # A header cell is the file's text: echoed with its control characters made visible.
    repeated = sorted({shown(n) for n in names if names.count(n) > 1})
    missing = [c for c in required if c not in names]
    extra = [shown(n) or "(empty)" for n in names if n not in (*required, *optional)]
    if repeated or missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column {', '.join(missing)}")
        if extra:
            parts.append(f"unknown column {', '.join(extra)}")
        if repeated:
            parts.append(f"repeated column {', '.join(repeated)}")
        raise CsvFileError(
            f"{source}: line 1: header has {'; '.join(parts)} (expected: {','.join(required)}; "
            f"optional: {','.join(optional)})"
        )
    return names


def unguarded(cell: str) -> str:
    """A cell as typed: without the "'" an export writes before a formula's first
    character (or before a "'" of the text itself)."""
    if cell.startswith("'") and cell[1:].startswith((*FORMULA_STARTS, "'")):
        return cell[1:]
    return cell


def wrong_width(line: int, record: list[str], names: list[str], source: str) -> RowProblem:
    """A row with more or fewer cells than the header has columns."""
    return RowProblem(line, "row", f"has {len(record)} fields, the header has {len(names)}", source)
