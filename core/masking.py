"""Database passwords hidden in any text a person may see (errors, warnings).

Pure and light (only `re`): the command line's error path imports it before any
database library. A password can sit in a URL's user part (user:secret@host) or
in its query (?password=secret), and a driver may quote it back as a keyword
(password=secret). A malformed URL (a bad port) is quoted back as typed, so the
text is masked, not only parsed URLs.
"""

from __future__ import annotations

import re

MASK = "***"

# Greedy up to the last "@" of the run: a password may itself hold "@" or "/".
_USERINFO_PASSWORD = re.compile(r"(?P<head>//[^/:@\s'\"]*:)[^\s'\"]+@")
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*['\"]?)[^&#\s'\"]+", re.IGNORECASE
)


def masked_text(text: str) -> str:
    """`text` with every database password in it (URL or keyword) replaced by ***."""
    text = _USERINFO_PASSWORD.sub(rf"\g<head>{MASK}@", text)
    return _KEYWORD_PASSWORD.sub(rf"\g<head>{MASK}", text)
