"""Staff alert delivery through Apprise: load the YAML config, describe it, send.

The clinic admin keeps one Apprise YAML file (``apprise_config`` in the settings) listing
each delivery service with tags: one per staff member (``dr-lee``) and one per role
(``oncall``, ``senior``, ``physicians``). Escalation steps name tags, never services.

Apprise is forgiving by design: a URL it cannot use is logged and skipped. For paging a
physician about an emergency that is the wrong default, because a typo would silently
drop a pager. :func:`load_apprise` therefore checks every entry on its own and refuses
the whole file (:class:`NotifyConfigError`, one line naming the file, line and URL) when
any entry yields no service.

Secrets: service URLs carry passwords and tokens. Nothing here stores, returns or prints
a raw URL; every URL shown is Apprise's ``url(privacy=True)`` masked again by the one mask
(`core.service_urls`): Apprise leaves webhook path tokens, ntfy topics and ``+Header=``
values in clear. The ``apprise`` logger is kept at INFO or above since at DEBUG Apprise logs the
raw configuration text.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import apprise
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; Apprise depends on it.
from apprise import plugins as apprise_plugins
from apprise.config.base import ConfigBase
from apprise.plugins.base import NotifyBase
from apprise.result import AppriseResult, AppriseResultStatus, NotifyResult

from core.service_urls import MASK, mask_secrets_in, mask_service_url
from notifiers.clinic_config import SendingConfiguration, read_configuration

__all__ = [
    "TEST_BODY",
    "TEST_TITLE",
    "DeliveryOutcome",
    "DeliveryResult",
    "LoadedApprise",
    "NotifyConfigError",
    "ServiceLine",
    "deliver",
    "describe_services",
    "html_body",
    "lift_default_spacing",
    "load_apprise",
    "mask_service_url",
    "send_test",
    "services_reached",
    "tags_to_services",
]

TEST_TITLE: Final = "aftercare test notification"
TEST_BODY: Final = (
    "This is a test from aftercare. If you received it, staff alerts can reach you here; "
    "no action is needed."
)

_LOGGER_NAME: Final = "apprise"


class NotifyConfigError(Exception):
    """The Apprise config cannot be used; ``str()`` is one line naming the file and problem."""

    def __init__(self, message: str) -> None:
        # Apprise and PyYAML messages may span lines; the CLI promises one line.
        super().__init__(" ".join(message.split()))


_Senders = dict[tuple[str, ...], list[tuple[apprise.NotifyFormat, apprise.Apprise]]]


@dataclass(frozen=True, eq=False)
class LoadedApprise:
    """A ready :class:`apprise.Apprise` plus what the admin should hear about its file."""

    path: Path
    apprise: apprise.Apprise
    configuration: SendingConfiguration
    """Which file this is: owner, mode and the hash of the content loaded."""
    warnings: tuple[str, ...] = ()
    senders: _Senders = field(default_factory=dict, repr=False)
    """What `deliver` sends through for each tag asked for, made on first use: the file
    does not change once loaded, and making them on every alert cost a tenth of it."""


@dataclass(frozen=True)
class ServiceLine:
    """One configured service as it may be shown to anyone: masked URL, tags, validity."""

    service: str
    masked_url: str
    tags: tuple[str, ...]
    valid: bool


@dataclass(frozen=True)
class DeliveryResult:
    """How one service fared for one notification; plain data, safe to log or store."""

    service: str
    masked_url: str
    ok: bool
    status: str
    attempts: int
    elapsed_seconds: float
    error: str | None
    destination: str = ""
    """The service's digest (`destination_of`): which results of a row's attempts were
    the same service, so a retry skips those that already delivered."""


@dataclass(frozen=True)
class DeliveryOutcome:
    """The outcome of one :func:`deliver` call.

    ``matched`` is False when no service carries the tag (nothing was sent); ``ok_all`` is
    True only when something matched and every dispatched service accepted the message.
    ``error`` explains a failure that belongs to the call rather than to one service.
    """

    ok_all: bool
    matched: bool
    results: list[DeliveryResult] = field(default_factory=list)
    error: str | None = None


def _mask_unparsed(url: str) -> str:
    """Mask a URL Apprise could not load (so it has no privacy form): keep the scheme,
    host and port an admin needs to find the entry, hide user info, path and query."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return f"{url[:12]}..." if len(url) > 12 else url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    user, at, hostport = authority.rpartition("@")
    shown = f"{scheme}://"
    if at:
        shown += f"{user.split(':', 1)[0]}:{MASK}@" if ":" in user else f"{user}@"
    # Service tokens often sit where a host would; only show what looks like a host.
    host = hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
    looks_like_host = host == "localhost" or "." in host or host.startswith("[")
    shown += hostport if looks_like_host else (f"{hostport[:1]}{MASK}" if hostport else "")
    if len(rest) > len(authority):
        shown += f"/{MASK}"
    return shown


def _quiet_apprise_logger() -> None:
    """Keep the apprise logger at INFO or above: at DEBUG it logs raw config and URLs."""
    logger = logging.getLogger(_LOGGER_NAME)
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)


def _read(path: Path) -> tuple[str, SendingConfiguration]:
    """Read the config file and who owns it (one open), turning every failure into one
    line naming it."""
    try:
        content, configuration = read_configuration(path)
        return content.decode("utf-8"), configuration
    except FileNotFoundError:
        raise NotifyConfigError(f"{path}: Apprise config file does not exist") from None
    except UnicodeDecodeError:
        raise NotifyConfigError(f"{path}: Apprise config file is not valid UTF-8") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise NotifyConfigError(f"{path}: cannot read Apprise config file: {reason}") from None


def _permission_warnings(path: Path, mode: int) -> list[str]:
    """Warn when people other than the owner can read or change a file holding secrets."""
    if not stat.S_ISREG(mode) or not mode & 0o077:
        return []
    who = []
    if mode & 0o070:
        who.append("group")
    if mode & 0o007:
        who.append("others")
    access = []
    if mode & 0o044:
        access.append("read")
    if mode & 0o022:
        access.append("written")
    if not access:
        # Only execute bits: nothing leaks, but 600 is still the documented mode.
        access.append("accessed")
    return [
        f"{path} can be {' and '.join(access)} by {' and '.join(who)} "
        f"(mode {stat.S_IMODE(mode):o}) and holds service passwords; run: chmod 600 {path}"
    ]


def _parse_yaml(path: Path, text: str) -> tuple[dict[str, Any], list[tuple[object, int]]]:
    """Return the document and its ``urls`` entries with their 1-based line numbers."""
    try:
        document = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        # Only the problem and position: str(exc) quotes the offending line, which may
        # hold a password.
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise NotifyConfigError(
            f"{path}: not valid YAML{where}: {exc.problem or exc.context or 'syntax error'}"
        ) from None
    except yaml.YAMLError as exc:
        raise NotifyConfigError(f"{path}: not valid YAML: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise NotifyConfigError(
            f"{path}: not an Apprise YAML config: expected a mapping with 'version: 1' and 'urls:'"
        )
    version = document.get("version", 1)
    if version != 1:
        raise NotifyConfigError(f"{path}: unsupported Apprise config version {version!r}")
    entries = document.get("urls")
    if entries is None:
        raise NotifyConfigError(f"{path}: no services configured (no 'urls:' list)")
    if not isinstance(entries, list):
        raise NotifyConfigError(f"{path}: 'urls:' must be a list of service URLs")
    lines = _entry_lines(root, len(entries))
    return document, list(zip(entries, lines, strict=True))


def _entry_lines(root: Any, count: int) -> list[int]:
    """Line number of each ``urls`` item, from PyYAML's node marks (0 when unknown)."""
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if getattr(key, "value", None) == "urls" and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
                if len(lines) == count:
                    return lines
    return [0] * count


def _entry_url(entry: object) -> str | None:
    """The URL written in one ``urls`` entry (a string, or the key of a one-URL mapping)."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        for key in entry:
            if isinstance(key, str) and "://" in key:
                return key
    return None


def _port_problem(url: str) -> str | None:
    """Apprise accepts ports it can never connect to (99999, "abc"); catch them here."""
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):  # IPv6 literal: the port follows the closing bracket.
        port = hostport.partition("]")[2].removeprefix(":")
    elif hostport.count(":") == 1:
        port = hostport.partition(":")[2]
    else:
        return None
    if not port:
        return None
    if not port.isdigit():
        # Services such as Telegram put "id:token" where host:port would be; only a
        # dotted host (a real server) makes a non-numeric suffix a port typo.
        host = hostport.partition(":")[0]
        return f"port {port[:1]}{MASK} is not a number" if "." in host else None
    if not 1 <= int(port) <= 65535:
        return f"port {port} is outside 1-65535"
    return None


def _url_to_dict(url: str) -> object:
    """Apprise's own URL parser (None when it cannot parse *url*)."""
    # Not annotated in Apprise; going through Any keeps mypy --strict precise elsewhere.
    parse: Any = apprise_plugins.url_to_dict
    return parse(url)


def _check_entries(
    path: Path, document: dict[str, Any], entries: list[tuple[object, int]]
) -> dict[int, str]:
    """Load every entry on its own so a rejected one is named, not silently skipped.

    Returns {entry index: one-line problem naming the file, line and masked URL}.
    """
    # Everything but the entries themselves (global tags, groups, templates) can change
    # whether an entry loads, so each single-entry document keeps it.
    shared = {k: v for k, v in document.items() if k not in ("urls", "include")}
    problems: dict[int, str] = {}
    for index, (entry, line) in enumerate(entries, start=1):
        where = f"line {line}, entry #{index}" if line else f"entry #{index}"
        url = _entry_url(entry)
        if url is None:
            problems[index] = f"{path}: {where}: no service URL (expected scheme://...)"
            continue
        shown = _mask_unparsed(url)
        problem = _port_problem(url)
        if problem:
            problems[index] = f"{path}: {where}: invalid URL {shown}: {problem}"
            continue
        # In the mapping form Apprise builds a service even from a URL it could not parse
        # (logging "Unparseable URL" and using an empty host), so ask its parser directly.
        # Template placeholders (${NAME}) are filled in at send time, so they are skipped.
        if "${" not in url and _url_to_dict(url) is None:
            problems[index] = (
                f"{path}: {where}: Apprise cannot parse URL {shown} (missing host or "
                "malformed part)"
            )
            continue
        single = yaml.safe_dump({**shared, "urls": [entry]})
        services, _includes = ConfigBase.config_parse_yaml(single)
        if not services:
            problems[index] = (
                f"{path}: {where}: Apprise rejects URL {shown} (unknown service, or a "
                "missing or malformed part)"
            )
    return problems


def load_apprise(path: Path, *, strict: bool = True) -> LoadedApprise:
    """Build an :class:`apprise.Apprise` from the Apprise YAML config file at *path*.

    Raises :class:`NotifyConfigError` when the file is missing or unreadable, is not YAML
    Apprise can use, or configures no services. An entry Apprise rejects raises too when
    `strict` (`notify check`); otherwise (the dispatcher) it is reported in
    :attr:`LoadedApprise.warnings` with its file and line and left out, so alerts keep
    going to every valid service. Loose file permissions are always warnings.
    """
    _quiet_apprise_logger()
    text, configuration = _read(path)
    warnings = _permission_warnings(path, configuration.mode)
    document, entries = _parse_yaml(path, text)
    if not entries:
        raise NotifyConfigError(f"{path}: no services configured ('urls:' is empty)")
    problems = _check_entries(path, document, entries)
    if problems and strict:
        raise NotifyConfigError(next(iter(problems.values())))
    if problems:
        warnings.extend(problems.values())
        good = [entry for index, (entry, _) in enumerate(entries, start=1) if index not in problems]
        if not good:
            raise NotifyConfigError(f"{path}: no valid service left: {problems[1]}")
        text = yaml.safe_dump({**{k: v for k, v in document.items() if k != "urls"}, "urls": good})
    if "include" in document:
        # In-memory configs do not follow includes; say so rather than lose services.
        warnings.append(f"{path}: 'include:' is ignored; list every service in this file")

    config = apprise.AppriseConfig()
    if not config.add_config(text, format="yaml"):
        raise NotifyConfigError(f"{path}: Apprise cannot parse this file as YAML config")
    notifier = apprise.Apprise()
    notifier.add(config)
    services = list(notifier)
    if not services:
        raise NotifyConfigError(f"{path}: no services configured")
    for service in services:
        if not service.enabled:
            warnings.append(
                f"{path}: service {_private_url(service)} is disabled "
                "(a library it needs is missing); it will not deliver"
            )
    return LoadedApprise(
        path=path, apprise=notifier, warnings=tuple(warnings), configuration=configuration
    )


def _private_url(service: NotifyBase) -> str:
    """``service.url(privacy=True)``, then masked further; the only form of a URL we use."""
    # NotifyBase.url is not annotated in Apprise; going through Any keeps mypy --strict
    # from rejecting the call without silencing anything else.
    url: Any = service.url
    return mask_service_url(str(url(privacy=True)))


def _service_name(service: NotifyBase) -> str:
    return str(getattr(service, "service_name", None) or type(service).__name__)


def _tags(service: NotifyBase) -> tuple[str, ...]:
    # AppriseTag carries priority metadata; its str() is the bare tag name.
    return tuple(sorted(str(tag) for tag in service.tags))


def describe_services(loaded: LoadedApprise) -> list[ServiceLine]:
    """Every configured service, in file order, with masked URL, tags and validity."""
    return [
        ServiceLine(
            service=_service_name(service),
            masked_url=_private_url(service),
            tags=_tags(service),
            valid=bool(service.enabled),
        )
        for service in loaded.apprise
    ]


def tags_to_services(loaded: LoadedApprise) -> dict[str, list[str]]:
    """Map each tag (sorted) to the masked URLs of the services it reaches."""
    reach: dict[str, list[str]] = {}
    for line in describe_services(loaded):
        for tag in line.tags:
            reach.setdefault(tag, []).append(line.masked_url)
    return dict(sorted(reach.items()))


def services_reached(loaded: LoadedApprise, tag: str) -> frozenset[str]:
    """Which destinations a send to `tag` reaches (Apprise's own matching, as `deliver`
    uses it), each as a digest of the service's full URL: two tags reaching the same
    set reach the same person, whether through one entry tagged twice or two entries
    with the same URL. Empty when no service carries the tag.

    The full URL, not the masked one: masking can make two different destinations look
    alike (tokens shortened to their ends), and taking one for the other would drop a
    page. Digests, so no secret lingers in what the dispatcher compares or logs.
    """
    return frozenset(destination_of(service) for service in loaded.apprise.find(tag))


def destination_of(service: NotifyBase) -> str:
    """A service's digest of its full URL (see `services_reached`)."""
    # NotifyBase.url is not annotated in Apprise (see _private_url).
    url: Any = service.url
    return hashlib.sha256(str(url(privacy=False)).encode()).hexdigest()


def lift_default_spacing(loaded: LoadedApprise) -> list[NotifyBase]:
    """Drop Apprise's generic wait between two sends through one service, for the services
    that do not declare a wait of their own; return those that do (they keep it).

    Apprise spaces the sends of every plugin that sets no rate of its own 5.5 s apart
    (e-mail among them): a politeness default, not any server's limit. An SMTP server
    takes messages back to back (each send is its own connection), and for pages it
    made the twentieth of twenty alerts due at once wait 105 s. A plugin that declares
    its own wait (Slack 1.2 s, SES 2.5 s, ...) mirrors its service's API limit: going
    faster would be refused (HTTP 429) and cost a retry 30 s later, so it stays.
    """
    spaced = []
    for service in loaded.apprise:
        declared_by = next(
            (kind for kind in type(service).__mro__ if "request_rate_per_sec" in vars(kind)),
            NotifyBase,
        )
        if declared_by is NotifyBase:
            service.request_rate_per_sec = 0
        elif service.request_rate_per_sec > 0:
            spaced.append(service)
    return spaced


def _error_text(result: NotifyResult) -> str | None:
    """Why one service failed, from the log lines Apprise captured for it (WARNING+)."""
    if result.status == AppriseResultStatus.SUCCESS:
        return None
    messages = [entry.message for entry in result.logs()]
    if messages:
        # Apprise logs with its own secure-logging masking, which leaves webhook paths
        # and topics: every URL in the line is masked again.
        return mask_secrets_in(" ".join(messages[-1].split()))
    if result.status == AppriseResultStatus.TIMEOUT:
        return "timed out"
    return "delivery failed (no detail from Apprise)"


def _convert(result: NotifyResult, destination: str = "") -> DeliveryResult:
    return DeliveryResult(
        service=result.name,
        # NotifyResult.url is already url(privacy=True).
        masked_url=mask_service_url(result.url),
        ok=result.status == AppriseResultStatus.SUCCESS,
        status=result.status.name.lower(),
        attempts=len(result.attempts),
        elapsed_seconds=float(result.elapsed),
        error=_error_text(result),
        destination=destination,
    )


def _call_error(outcome: AppriseResult) -> str | None:
    """A failure that belongs to the call itself (bad arguments), not to one service."""
    messages = [entry.message for entry in outcome.call_logs()]
    return mask_secrets_in(" ".join(messages[-1].split())) if messages else None


_LINK = re.compile(r"https?://[^\s<>\"']+")


def html_body(text: str) -> str:
    """The HTML form of a plain-text alert: each line escaped, kept on its own line, links
    clickable, the headline in bold.

    Apprise is handed this HTML and told so: an e-mail then carries it as its HTML part
    and Apprise's own conversion of it as the plain-text part, and every other service
    gets it converted to what it takes. Handing over plain text unannounced made the
    e-mail plugin treat it as HTML, so `<...>` vanished from both parts and the lines
    ran together.
    """
    lines = []
    for number, line in enumerate(text.split("\n")):
        shown, at = [], 0
        for link in _LINK.finditer(line):
            shown.append(html.escape(line[at : link.start()]))
            url = html.escape(link.group(0))
            shown.append(f'<a href="{url}">{url}</a>')
            at = link.end()
        shown.append(html.escape(line[at:]))
        joined = "".join(shown)
        lines.append(f"<strong>{joined}</strong>" if number == 0 and joined else joined)
    return "<br/>".join(lines)


def _senders(
    loaded: LoadedApprise, wanted: str | list[str]
) -> list[tuple[apprise.NotifyFormat, apprise.Apprise]]:
    """The services `wanted` reaches, one Apprise per format they take (see `deliver`)."""
    key = (wanted,) if isinstance(wanted, str) else tuple(wanted)
    known = loaded.senders.get(key)
    if known is not None:
        return known
    # E-mail and the like default to HTML: they get the HTML form (and build their
    # plain-text part from it); everything else gets the text as it is, so a JSON hook
    # or an SMS gateway never sees a tag.
    groups: dict[apprise.NotifyFormat, apprise.Apprise] = {}
    for service in loaded.apprise.find(wanted):
        html_first = service.resolve_format(None) == apprise.NotifyFormat.HTML
        fmt = apprise.NotifyFormat.HTML if html_first else apprise.NotifyFormat.TEXT
        groups.setdefault(fmt, apprise.Apprise(asset=loaded.apprise.asset)).add(service)
    made = loaded.senders[key] = list(groups.items())
    return made


def deliver(
    loaded: LoadedApprise,
    tag: str | Sequence[str],
    title: str,
    body: str,
    *,
    timeout_seconds: float = 0.0,
    skip: frozenset[str] = frozenset(),
) -> DeliveryOutcome:
    """Send *title*/*body* to every service carrying *tag* and report per service.

    *tag* is one tag or several (any of them matches). *timeout_seconds* bounds the
    whole call; 0 leaves only each service's own timeouts. *skip* names services
    (`destination_of`) that already delivered this message: they are not sent it
    again. Never raises for a delivery problem: failures are in the returned results.
    """
    _quiet_apprise_logger()
    wanted = tag if isinstance(tag, str) else list(tag)
    groups = _senders(loaded, wanted)
    if not groups:
        return DeliveryOutcome(ok_all=False, matched=False)
    if skip:
        groups = _without(loaded, groups, skip)
    results: list[DeliveryResult] = []
    ok_all, error = True, None
    for fmt, sending in groups:
        text = html_body(body) if fmt == apprise.NotifyFormat.HTML else body
        # Results name their service by its masked URL; the digest tells services apart.
        digests: dict[str, list[str]] = {}
        for service in sending:
            private: Any = service.url
            digests.setdefault(private(privacy=True), []).append(destination_of(service))
        with sending.notify(
            body=text, title=title, tag=wanted, timeout=timeout_seconds, body_format=fmt
        ) as outcome:
            sent = [
                _convert(result, (digests.get(result.url) or [""]).pop(0) or "")
                for result in outcome
            ]
            ok_all = ok_all and outcome.status == AppriseResultStatus.SUCCESS and bool(sent)
            if not sent and error is None:
                error = _call_error(outcome)
            results += sent
    ok_all = ok_all and all(r.ok for r in results)
    return DeliveryOutcome(
        ok_all=ok_all, matched=True, results=results, error=None if ok_all or results else error
    )


def _without(
    loaded: LoadedApprise,
    groups: list[tuple[apprise.NotifyFormat, apprise.Apprise]],
    skip: frozenset[str],
) -> list[tuple[apprise.NotifyFormat, apprise.Apprise]]:
    """`groups` less the services in `skip` (a retry of a message some already have)."""
    kept = []
    for fmt, sending in groups:
        left = [service for service in sending if destination_of(service) not in skip]
        if left:
            subset = apprise.Apprise(asset=loaded.apprise.asset)
            for service in left:
                subset.add(service)
            kept.append((fmt, subset))
    return kept


def send_test(
    loaded: LoadedApprise, tag: str, title: str = TEST_TITLE, body: str = TEST_BODY
) -> list[DeliveryResult]:
    """Send a test message to *tag*; an empty list means no service carries the tag."""
    return deliver(loaded, tag, title, body).results
