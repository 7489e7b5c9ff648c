"""Signed links in physician alerts: one tap on the phone acknowledges or resolves.

Each alert carries a link signed for one escalation, step, cycle and target tag,
with a random nonce that makes it single use per action (the database keeps
the nonces already used). The signature is HMAC-SHA256 with the clinic
server's secret, which only the alert service and the web service can read;
anyone else can neither make a link nor change one, even by one character.

A token is two base64url parts joined by a dot: what the link is for, and the
signature over it. Both parts must be the one canonical encoding of their
bytes, so a changed character never decodes to the same link.

Pure Python: no storage, no web library. Reading the secret file is here too,
because the alert service (notifiers) and the web page (web) both need it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from core.refusals import Refused

VERSION: Final = "1"
SECRET_BYTES: Final = 32
LINK_PATH: Final = "/a/"
"""Where a link's token sits under the web service's public address."""

_LINK_PURPOSE: Final = b"aftercare alert link|"
_FORM_PURPOSE: Final = b"aftercare alert form|"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_NONCE_BYTES: Final = 12


class LinkAction(StrEnum):
    """What a physician may do through a link; each at most once per link."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class LinkProblem(StrEnum):
    """Why a link was refused, for the page's sentence and the tests."""

    WRONG = "wrong"
    """Not a link this clinic made: malformed, or signed with another secret."""
    TAMPERED = "tampered"
    """Shaped like one of ours, but the signature does not match what it says."""
    EXPIRED = "expired"
    """Its escalation is closed (resolved): the link acts no more."""
    REPLAYED = "replayed"
    """This link was already used for this action."""
    UNKNOWN = "unknown"
    """Signed by us, but its escalation does not exist (any more)."""


class LinkRefused(Refused):
    """A link that must not act; nothing was changed. `str()` is the sentence the page
    shows, `problem` which kind of refusal it is."""

    def __init__(self, problem: LinkProblem, sentence: str) -> None:
        super().__init__(sentence)
        self.problem = problem


@dataclass(frozen=True)
class LinkClaim:
    """What a verified link is for: one escalation, step and target, and its nonce."""

    escalation_id: int
    step: int
    cycle: int
    target_tag: str
    nonce: str


@dataclass(frozen=True)
class LinkClient:
    """Where a link was used from, as the audit trail keeps it."""

    address: str | None
    user_agent: str | None


class SecretFileError(Exception):
    """The secret file cannot be used; `str()` is one line naming the file and the fix."""


def new_nonce() -> str:
    """A fresh random nonce for one link (96 bits, base64url)."""
    return _encode(secrets.token_bytes(_NONCE_BYTES))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes | None:
    """The bytes of a canonical unpadded base64url text; None for anything else.

    Base64 leaves spare bits in the last character: 'Q' and 'R' can end the
    same bytes. Only the encoding we would have written is accepted, so that
    changing any one character of a token changes what it says.
    """
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _encode(raw) == text else None


def _mac(secret: bytes, purpose: bytes, message: bytes) -> bytes:
    return hmac.new(secret, purpose + message, hashlib.sha256).digest()


@dataclass(frozen=True)
class LinkKeys:
    """The server secret, used to sign links, check them and bind a page's form to its link."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < SECRET_BYTES:
            raise ValueError(f"the link secret must be at least {SECRET_BYTES} bytes")

    def sign(self, claim: LinkClaim) -> str:
        """The token for `claim` (URL-safe: letters, digits, '-', '_' and one '.')."""
        if not claim.target_tag or "\n" in claim.target_tag:
            raise ValueError("a link needs its target tag, on one line")
        fields = (
            VERSION,
            str(claim.escalation_id),
            str(claim.step),
            str(claim.cycle),
            claim.nonce,
            claim.target_tag,
        )
        payload = "|".join(fields).encode("utf-8")
        return f"{_encode(payload)}.{_encode(_mac(self.secret, _LINK_PURPOSE, payload))}"

    def verify(self, token: str) -> LinkClaim:
        """The claim a token carries, once its signature is checked (in constant time).

        Raises LinkRefused: WRONG for what is not shaped like a link, TAMPERED
        for a link whose signature does not match what it says.
        """
        body, dot, signature = token.partition(".")
        payload, mac = _decode(body), _decode(signature)
        if not dot or payload is None or mac is None or len(mac) != hashlib.sha256().digest_size:
            raise LinkRefused(LinkProblem.WRONG, _WRONG)
        if not hmac.compare_digest(mac, _mac(self.secret, _LINK_PURPOSE, payload)):
            raise LinkRefused(LinkProblem.TAMPERED, _TAMPERED)
        claim = _parse(payload)
        if claim is None:  # signed by us yet unreadable: a link of another version
            raise LinkRefused(LinkProblem.WRONG, _WRONG)
        return claim

    def form_token(self, token: str) -> str:
        """The anti-forgery value a page's buttons send back: bound to this link, made
        with the secret, so a form posted from anywhere else is refused."""
        return _encode(_mac(self.secret, _FORM_PURPOSE, token.encode("utf-8")))

    def form_token_matches(self, token: str, given: str) -> bool:
        """Whether `given` is this link's form token (constant-time)."""
        return hmac.compare_digest(self.form_token(token).encode(), given.encode())


_WRONG: Final = "This is not a link from the clinic's alerts (it may have been cut short)."
_TAMPERED: Final = (
    "This link does not match what the clinic signed: it was changed since it was sent "
    "(or made before the clinic replaced its link secret), so it cannot be used."
)


def _parse(payload: bytes) -> LinkClaim | None:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    parts = text.split("|", 5)
    if len(parts) != 6 or parts[0] != VERSION:
        return None
    _, escalation, step, cycle, nonce, tag = parts
    if not (escalation.isdigit() and step.isdigit() and cycle.isdigit()) or not tag or not nonce:
        return None
    return LinkClaim(int(escalation), int(step), int(cycle), tag, nonce)


def link_url(base_url: str, token: str) -> str:
    """The address a physician taps: the web service's public address, then /a/<token>."""
    return f"{base_url.rstrip('/')}{LINK_PATH}{token}"


def base_url_problem(url: str) -> str | None:
    """Why `url` cannot be the public address of the links; None when it can.

    Links carry a physician's authority, so they travel over https only; plain
    http is accepted for this machine's own loopback address (a test, or a
    proxy on the same host being tried out).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https" and bool(host)
    loopback = parts.scheme == "http" and host in ("127.0.0.1", "localhost", "::1")
    if not (secure or loopback):
        return (
            "expected the https:// address the reverse proxy serves, "
            "e.g. https://alerts.clinic.example"
        )
    if parts.query or parts.fragment:
        return "the address must not carry a query or a fragment"
    return None


# -- the secret file ----------------------------------------------------------------------


def create_secret(path: Path) -> None:
    """Write a new random secret to `path`, readable by its owner only (0600).

    Refuses to replace an existing file: every link already sent would stop working.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretFileError(
            f"{path} already exists; links already sent are signed with it, so it is kept "
            "(delete it yourself to start again: every link sent so far stops working)"
        ) from None
    except OSError as exc:
        raise SecretFileError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, (secrets.token_hex(SECRET_BYTES) + "\n").encode("ascii"))
    finally:
        os.close(descriptor)


def read_secret(path: Path) -> tuple[LinkKeys, list[str]]:
    """The link keys from the secret file, and warnings (a file others can read).

    Raises SecretFileError naming the file and how to fix it.
    """
    try:
        text = path.read_bytes().decode("ascii").strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretFileError(
            f"the link secret file {path} does not exist: create it with "
            "`aftercare web --init-secret` as the service user"
        ) from None
    except PermissionError:
        raise SecretFileError(
            f"cannot read the link secret file {path}: run this as the user the alert "
            "service runs as"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretFileError(f"cannot read the link secret file {path}: {reason}") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < SECRET_BYTES:
        raise SecretFileError(
            f"{path} does not hold a link secret ({SECRET_BYTES * 2} hex digits); "
            "create one with `aftercare web --init-secret`"
        )
    warnings = []
    if stat.S_IMODE(mode) & 0o077:
        warnings.append(
            f"{path} can be read by people other than its owner (mode {stat.S_IMODE(mode):o}) "
            f"and lets whoever reads it act as any physician; run: chmod 600 {path}"
        )
    return LinkKeys(secret), warnings
