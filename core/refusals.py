"""The one family of refusals every face shows: the action was not done, and why.

Pure exceptions, so a screen, a command or a web page can catch them without
knowing about storage. `str()` is always one sentence for a person.
"""

from __future__ import annotations


class Refused(Exception):
    """The action cannot be done as asked; nothing was written. `str()` says why."""


class StaleEdit(Refused):
    """Someone changed the record since it was read; the message names who and when."""


class NotFound(Refused):
    """The record asked for does not exist (any more)."""


class Unavailable(Refused):
    """The database cannot be reached or used for a moment; nothing was written."""
