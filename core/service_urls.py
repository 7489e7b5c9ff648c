"""The one mask for a delivery service's URL, wherever it is shown or stored.

An Apprise URL is a secret in more places than its password: a webhook's path
is often its only key (anyone who knows `json://hooks.example/8f3a...` can post
to it), an ntfy topic is the subscription itself (`ntfy://topic` or
`ntfy://host/topic`), and services such as Telegram put a bot token where a
host would be. So a URL is shown as its scheme, the user name, the host when it
looks like a server, and of every other part only its first and last character,
as Apprise's own privacy mode shows a token (enough to tell `/oncall` from
`/dr-park` on one screen, nothing to post with):

    jsons://user:pw@hooks.example:8443/alerts/8f3a2b?+X-Token=t  ->
    jsons://user:***@hooks.example:8443/a...s/8...b?+X-Token=***

Apprise's own `url(privacy=True)` is the first layer where a service object
exists (it knows which part of each plugin's URL is the token); this is the
second, applied to everything: `notify check`, the alerts screen, and every
delivery result before it is stored. Pure text, so the database layer (which
may not import Apprise) masks with the same function.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Final

from core.config import mask_url

__all__ = ["MASK", "mask_secrets_in", "mask_service_url"]

MASK: Final = "***"

# Query keys whose values are secrets: custom HTTP headers (+Name=), payload extras
# (:name=), and anything credential-shaped; Apprise's privacy mode leaves them.
_SECRET_KEY = re.compile(r"pass|pwd|token|secret|key|auth|sig|topic|webhook", re.IGNORECASE)
_HEADER_PREFIXES: Final = ("+", ":", "-", "%2B", "%2b", "%3A", "%3a")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*)://(?P<rest>.*)$", re.DOTALL)
# A URL inside a sentence (an error Apprise logged): up to whitespace or a closing mark.
_URL_IN_TEXT = re.compile(r"[A-Za-z][\w+.-]*://[^\s<>\"'`)\]]*[^\s<>\"'`)\].,;:]")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _looks_like_host(host: str) -> bool:
    """A server name or address, as opposed to a token or topic written where a host
    would be (`ntfy://topic`, `tgram://bot-token/...`): dotted names, localhost, IPs."""
    if not host:
        return False
    if host.startswith("[") or host == "localhost" or _IPV4.match(host):
        return True
    labels = host.split(".")
    # A dotted name whose last label is letters (a top-level domain), so "1...9" (a token
    # Apprise already shortened) or "a.b" made of digits is not taken for a server.
    return len(labels) > 1 and all(labels) and labels[-1].isalpha()


def _hide(part: str) -> str:
    """A token's first and last character (Apprise's `x...y`); all of a short one."""
    return f"{part[0]}...{part[-1]}" if len(part) > 3 else MASK


def _mask_query(query: str) -> str:
    parts = []
    for item in query.split("&"):
        key, eq, _value = item.partition("=")
        plain = urllib.parse.unquote(key)
        secret = key.startswith(_HEADER_PREFIXES) or _SECRET_KEY.search(plain)
        parts.append(f"{key}={MASK}" if eq and secret else item)
    return "&".join(parts)


def mask_service_url(url: str) -> str:
    """`url` with every secret part masked: password, a token or topic in the host's
    place, every path segment (to its first and last character), and secret-like query
    values. A string that is not a
    URL comes back with only its password masked (`core.config.mask_url`)."""
    text = mask_url(url)
    match = _SCHEME.match(text)
    if match is None:
        return text
    scheme, rest = match["scheme"], match["rest"]
    rest, _hash, _fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    user, at, hostport = authority.rpartition("@")
    shown = f"{scheme}://"
    if at:
        name, colon, _password = user.partition(":")
        shown += f"{name}:{MASK}@" if colon else f"{user}@"
    if hostport.startswith("["):
        host = hostport.partition("]")[0] + "]"
    else:
        host = hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
    port = hostport[len(host) :]
    if _looks_like_host(host):
        shown += host + (port if port[1:].isdigit() else (f":{MASK}" if port else ""))
    elif hostport:
        shown += _hide(hostport)
    if slash:
        shown += "/" + "/".join(_hide(segment) if segment else "" for segment in path.split("/"))
    if question:
        shown += f"?{_mask_query(query)}"
    return shown


def mask_secrets_in(text: str) -> str:
    """`text` (an error message, a note) with every URL in it masked as above."""
    return _URL_IN_TEXT.sub(lambda found: mask_service_url(found.group(0)), mask_url(text))
