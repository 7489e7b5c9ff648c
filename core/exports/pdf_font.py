"""The font the PDF summary is printed in: Noto Sans CJK, found on this machine.

A home physician must be able to tell whose record they hold, so the PDF
prints the patient's name in their own script (Japanese, Chinese in either
script, Korean) beside the passport name. Noto Sans CJK covers all of those
and Latin. The clinic does not ship font files: the operating system's package
(Debian and Ubuntu: `fonts-noto-cjk`) provides `NotoSansCJK-Regular.ttc` and
`-Bold.ttc`, found where fontconfig itself looks (the XDG data folders' `fonts`
and `~/.fonts`), first at the places the distributions install them, then by
name anywhere below. No `fc-match`: it answers with some other font when the
one asked for is missing, and a folder scan finds the same files without
starting a program. Without the font the export is refused with one sentence
naming the package; it never prints names as '?'.

The collection's faces are CFF outlines, which fpdf2 embeds with its own
character map; pypdf (and readers like it) cannot read the text back from
that. So each PDF gets its own cut of the face: only the characters it
prints, redrawn with TrueType outlines (a few hundred glyphs, well under a
second), which fpdf2 embeds the ordinary way and every reader can search.
"""

from __future__ import annotations

import copy
import io
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.refusals import Refused

FONT_PACKAGE = "fonts-noto-cjk"

REGULAR_FILE = "NotoSansCJK-Regular.ttc"
BOLD_FILE = "NotoSansCJK-Bold.ttc"

MISSING_FONT = (
    "cannot make the PDF: it prints names in Japanese, Chinese and Korean script "
    f"with the Noto Sans CJK font ({REGULAR_FILE}), which is not installed; "
    f"an administrator installs it with: apt-get install {FONT_PACKAGE}"
)

# Where distributions put the collection, relative to a `fonts` folder:
# Debian and Ubuntu, Arch, Fedora (new and old package names), Alpine.
_KNOWN_PLACES = (
    "opentype/noto",
    "noto-cjk",
    "google-noto-sans-cjk-fonts",
    "google-noto-cjk",
    "noto",
)

# The collection's faces, one per region's letterforms; the glyph set is the same.
_JAPANESE, _KOREAN, _SIMPLIFIED_CHINESE, _TRADITIONAL_CHINESE = 0, 1, 2, 3


class PdfFontMissing(Refused):
    """Noto Sans CJK is not installed; `str()` names the package that provides it."""


@dataclass(frozen=True)
class CjkFont:
    """The Noto Sans CJK collections found on this machine."""

    regular: Path
    bold: Path
    """The bold collection, or the regular one again when only that is installed."""


def find_cjk_font(environ: Mapping[str, str] | None = None) -> CjkFont:
    """The installed Noto Sans CJK collections, or PdfFontMissing.

    `environ` (default: the process environment) gives HOME, XDG_DATA_HOME and
    XDG_DATA_DIRS, the folders searched as the XDG base directory rules say.
    """
    import os

    folders = font_folders(os.environ if environ is None else environ)
    regular = _find(REGULAR_FILE, folders)
    if regular is None:
        raise PdfFontMissing(MISSING_FONT)
    # The bold face is looked for beside the regular one first: the same package.
    bold = _find(BOLD_FILE, (regular.parent, *folders))
    return CjkFont(regular=regular, bold=bold or regular)


def font_folders(environ: Mapping[str, str]) -> tuple[Path, ...]:
    """The `fonts` folders fontconfig reads, the user's own first."""
    home = environ.get("HOME", "")
    data_home = _absolute(environ.get("XDG_DATA_HOME", "")) or (
        Path(home) / ".local" / "share" if home else None
    )
    data_dirs = [
        path
        for path in (
            _absolute(part)
            for part in (environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
        )
        if path is not None
    ]
    folders = [
        *([data_home / "fonts"] if data_home else []),
        *([Path(home) / ".fonts"] if home else []),
        *(path / "fonts" for path in data_dirs),
    ]
    return tuple(dict.fromkeys(folders))


def _absolute(text: str) -> Path | None:
    # The XDG rules: a relative path in these variables is invalid and ignored.
    path = Path(text) if text else None
    return path if path is not None and path.is_absolute() else None


def _find(name: str, folders: Iterable[Path]) -> Path | None:
    # Folder by folder, so a font the user put in their own folder wins; in each,
    # the distributions' places first, then anywhere below.
    for folder in folders:
        for place in ("", *_KNOWN_PLACES):
            candidate = folder / place / name
            if candidate.is_file():
                return candidate
        try:
            found = next((p for p in sorted(folder.rglob(name)) if p.is_file()), None)
        except OSError:  # an unreadable folder is one we cannot use
            continue
        if found is not None:
            return found
    return None


def face_for(language: str | None, text: str) -> int:
    """Which face of the collection prints `text` in the letterforms its reader expects.

    The patient's language decides (the same character is drawn differently in
    Japan, Korea, mainland China and Taiwan); without one, kana mean Japanese
    and Hangul Korean.
    """
    if language:
        from core.messages import resolve_language

        resolved, fell_back = resolve_language(language)
        if not fell_back:
            return {
                "ja": _JAPANESE,
                "ko": _KOREAN,
                "zh": _SIMPLIFIED_CHINESE,
                "zh-Hant": _TRADITIONAL_CHINESE,
            }.get(resolved, _by_script(text))
    return _by_script(text)


def _by_script(text: str) -> int:
    if any("\uac00" <= c <= "\ud7af" or "\u1100" <= c <= "\u11ff" for c in text):
        return _KOREAN
    return _JAPANESE


def truetype_cut(font_file: Path, face: int, characters: Iterable[str]) -> tuple[bytes, str]:
    """A TrueType font file's bytes with only `characters` of the face, and which of
    `characters` the face has (a Thai or Arabic letter, an emoji: not this font).

    The collection is read once per process (about half a second per face) and
    kept; each cut then costs a few milliseconds per character.
    """
    # fontTools (installed with fpdf2) ships no type information.
    from fontTools.fontBuilder import FontBuilder  # type: ignore[import-untyped]
    from fontTools.pens.cu2quPen import Cu2QuPen  # type: ignore[import-untyped]
    from fontTools.pens.ttGlyphPen import TTGlyphPen  # type: ignore[import-untyped]

    with _reading:
        source = _collection_face(font_file, face)
        cmap = source.getBestCmap()
        printable = "".join(sorted(c for c in set(characters) if ord(c) in cmap))
        names = [".notdef", *sorted({cmap[ord(c)] for c in printable} - {".notdef"})]
        outlines = source.getGlyphSet()
        drawn = _drawn.setdefault((font_file, face), {})
        for name in names:
            if name not in drawn:
                pen = TTGlyphPen(None)
                # CFF outlines are cubic and run the other way round; within 1 font unit.
                outlines[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
                drawn[name] = pen.glyph()
        glyphs = {name: copy.deepcopy(drawn[name]) for name in names}
        metrics = {name: source["hmtx"][name] for name in names}
        head, hhea, os2, post = source["head"], source["hhea"], source["OS/2"], source["post"]
        naming = source["name"]
        built = FontBuilder(head.unitsPerEm, isTTF=True)
        # The source's dates, not now: the same export gives the same bytes.
        built.updateHead(created=head.created, modified=head.modified)
        built.font.recalcTimestamp = False
        built.setupGlyphOrder(names)
        built.setupCharacterMap({ord(c): cmap[ord(c)] for c in printable})
        built.setupGlyf(glyphs)
        built.setupHorizontalMetrics(metrics)
        built.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
        built.setupNameTable(
            {
                "copyright": naming.getDebugName(0) or "",
                "familyName": naming.getDebugName(1) or "Noto Sans CJK",
                "styleName": naming.getDebugName(2) or "Regular",
                "fullName": naming.getDebugName(4) or "Noto Sans CJK",
                "psName": naming.getDebugName(6) or "NotoSansCJK",
                "licenseDescription": naming.getDebugName(13) or "",
                "licenseInfoURL": naming.getDebugName(14) or "",
            }
        )
        built.setupOS2(
            usWeightClass=os2.usWeightClass,
            fsType=os2.fsType,
            sTypoAscender=os2.sTypoAscender,
            sTypoDescender=os2.sTypoDescender,
            sTypoLineGap=os2.sTypoLineGap,
            usWinAscent=os2.usWinAscent,
            usWinDescent=os2.usWinDescent,
            sxHeight=os2.sxHeight,
            sCapHeight=os2.sCapHeight,
            yStrikeoutSize=os2.yStrikeoutSize,
            yStrikeoutPosition=os2.yStrikeoutPosition,
        )
        built.setupPost(
            keepGlyphNames=False,
            italicAngle=post.italicAngle,
            underlinePosition=post.underlinePosition,
            underlineThickness=post.underlineThickness,
            isFixedPitch=post.isFixedPitch,
        )
    out = io.BytesIO()
    built.save(out)
    return out.getvalue(), printable


# fontTools reads a font lazily and is not safe to share between threads (the TUI
# exports in a worker thread): one reader at a time.
_reading = threading.Lock()


# Glyphs already redrawn, by collection and face: the same letters recur in every PDF.
_drawn: dict[tuple[Path, int], dict[str, Any]] = {}


@cache
def _collection_face(font_file: Path, face: int) -> Any:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    return TTFont(font_file, fontNumber=face, lazy=True)
