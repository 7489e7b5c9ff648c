"""Configuration loading: one flat TOML file plus ``AFTERCARE_*`` environment variables.

Precedence is environment > file > built-in default, per setting. The file is found by
:func:`config_search_paths`; every problem (unknown key, wrong type, malformed TOML, missing
file) is reported as a :class:`ConfigError` whose message is a single line naming the key
and where the value came from, because the first reader is usually a clinic admin looking
at a terminal, not a developer reading a traceback.

This module is part of ``core`` and therefore imports only the standard library, pydantic
and platformdirs.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import unicodedata
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

from platformdirs import user_config_dir, user_data_dir
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.alert_links import base_url_problem
from core.incidents import ReportingPolicy
from core.plain_text import refuse_control

__all__ = [
    "CONFIG_ENV_VAR",
    "ENV_PREFIX",
    "KEYMAP_IDS",
    "SYSTEM_CONFIG_PATH",
    "ConfigError",
    "LoadedConfig",
    "SettingSource",
    "Settings",
    "config_search_paths",
    "describe",
    "load_config",
    "mask_url",
    "schedule_template_dirs",
]

APP_NAME: Final = "aftercare"
ENV_PREFIX: Final = "AFTERCARE_"
CONFIG_ENV_VAR: Final = "AFTERCARE_CONFIG"
# Variables under this prefix belong to the test suite (e.g. AFTERCARE_TEST_POSTGRES_URL),
# so they must not trip the unknown-variable check when tests run the real loader.
TEST_ENV_PREFIX: Final = "AFTERCARE_TEST_"
SYSTEM_CONFIG_PATH: Final = Path("/etc/aftercare/config.toml")

MASK: Final = "***"
NOT_SET: Final = "(not set)"
_SECRET_NAME_PARTS: Final = ("password", "token", "secret")


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one line suitable for a terminal."""

    def __init__(self, message: str) -> None:
        # Values and paths are embedded in messages; keep the promise of one line even if
        # one of them contains a newline.
        super().__init__(" ".join(message.splitlines()))


def _default_database_url() -> str:
    """Return the per-user SQLite URL used when no database is configured."""
    return f"sqlite:///{Path(user_data_dir(APP_NAME)) / 'aftercare.db'}"


def _check_timezone(value: str) -> str:
    """Accept only keys zoneinfo can load, so a typo fails at startup, not at first use."""
    try:
        zoneinfo.ZoneInfo(value)
    # ValueError: malformed keys ("", absolute paths, ".."); OSError: keys naming a
    # directory such as "America".
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("expected an IANA time zone name such as 'Asia/Seoul' or 'UTC'") from None
    return value


def _empty_as_none(value: object) -> object:
    """Treat an empty string as "not set": TOML has no null, and ``VAR=`` means unset."""
    return None if value == "" else value


def _check_web_base_url(value: str | None) -> str | None:
    """The links' public address: https (plain http only on loopback), no trailing slash."""
    if value is None:
        return None
    problem = base_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/")


class EscalationStepSetting(BaseModel):
    """One step of an escalation policy as written in the config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]] = Field(min_length=1)
    wait_minutes: int = Field(ge=0, le=1440)


class EscalationPolicySetting(BaseModel):
    """An escalation policy for one disposition as written in the config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: list[EscalationStepSetting] = Field(min_length=1)
    repeat: int = Field(default=1, ge=1, le=10)


_POLICY_KEYS = ("review", "urgent", "emergency")


def _json_from_text(expected: str) -> Callable[[object], object]:
    """A validator reading `expected` from JSON text: the environment carries as
    JSON the same tables the TOML file does."""

    def parse(value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"expected {expected} ({exc})") from None
        return value

    return parse


def _check_policy_keys(value: object) -> object:
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(_POLICY_KEYS))
        if unknown:
            raise ValueError(
                f"unknown disposition {', '.join(unknown)}; policies exist for "
                + ", ".join(_POLICY_KEYS)
            )
    return value


# The ids of the workstation's key bindings a `[keymap]` table may remap. The
# keys themselves live with the screens (tui/); a test keeps this list equal to
# theirs and the README's Keymap table, so an id in the file is checked when
# the file is read, like every other setting.
KEYMAP_IDS: Final = frozenset(
    {
        "app.alerts",
        "app.incidents",
        "app.oncall",
        "followup.contact",
        "followup.mark-done",
        "followup.skip",
        "followup.claim",
        "followup.copy-message",
        "queue.open",
        "queue.search",
        "queue.find",
        "queue.new-patient",
        "search.open",
        "search.reload",
        "search.back",
        "search.help",
        "queue.filter.mine",
        "queue.filter.unassigned",
        "queue.filter.overdue",
        "queue.filter.severity",
        "queue.filter.country",
        "queue.filter.language",
        "queue.filter.clear",
        "queue.refresh",
        "queue.help",
        "queue.quit",
        "patient.back",
        "patient.reload",
        "patient.triage",
        "patient.new-incident",
        "patient.export-summary",
        "patient.export-fhir",
        "patient.where-now",
        "patient.checklist",
        "patient.new-episode",
        "patient.correct-record",
        "patient.correct-details",
        "patient.help",
        "alerts.acknowledge",
        "alerts.resolve",
        "alerts.reload",
        "alerts.back",
        "alerts.help",
        "oncall.new-shift",
        "oncall.cancel-shift",
        "oncall.reload",
        "oncall.back",
        "oncall.help",
        "incidents.open-patient",
        "incidents.add-entry",
        "incidents.classify",
        "incidents.correct-dates",
        "incidents.record-report",
        "incidents.record-khidi",
        "incidents.close",
        "incidents.export-csv",
        "incidents.filter.status",
        "incidents.filter.overdue",
        "incidents.filter.category",
        "incidents.filter.country",
        "incidents.reload",
        "incidents.back",
        "incidents.help",
        "form.cancel",
        "form.save",
        "triage.save",
        "triage.normal-course",
        "care.save",
        "confirm.yes",
        "confirm.no",
        "help.close",
    }
)

_KEY_MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
# Keys with a name of their own (Textual's names); a printable character may also be
# written by its Unicode name, e.g. "question_mark" for "?".
_NAMED_KEYS = frozenset(
    {
        "escape",
        "enter",
        "tab",
        "space",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "pageup",
        "pagedown",
        "up",
        "down",
        "left",
        "right",
        "slash",
        "backslash",
        "at",
        "minus",
        "plus",
        "underscore",
        *(f"f{n}" for n in range(1, 25)),
    }
)


def _key_problem(key: str) -> str | None:
    """Why `key` is not a key Textual can bind ("ctrl+t", "f2", "?", "question_mark"), or None."""
    if not key:
        return "an empty key"
    *modifiers, base = key.split("+")
    if any(m not in _KEY_MODIFIERS for m in modifiers):
        return f"{key!r} is not a key (modifiers are {', '.join(sorted(_KEY_MODIFIERS))})"
    if not base:
        return f"{key!r} is not a key: nothing after the '+' (write 'plus' for the + key)"
    if len(base) == 1:
        return None if base.isprintable() and not base.isspace() else f"{key!r} is not a key"
    if base in _NAMED_KEYS:
        return None
    try:
        character = unicodedata.lookup(base.replace("_", " ").upper())
    except KeyError:
        character = ""
    if len(character) == 1 and character.isprintable() and not character.isspace():
        return None
    return f"{key!r} is not a key (e.g. 'ctrl+t', 'f2', 'escape', '?')"


def _check_keymap(value: object) -> object:
    """Each entry names a binding id the workstation has and one or more well-formed keys.

    A key list is a TOML array or a comma-separated string; it is kept as the
    comma-separated string Textual's `App.set_keymap` takes.
    """
    if not isinstance(value, dict):
        raise ValueError('expected a table of binding id = "key" (or ["key", ...])')
    checked: dict[str, str] = {}
    for binding_id, keys in value.items():
        entry = f"entry {binding_id!r}"
        if binding_id not in KEYMAP_IDS:
            hint = _suggest(str(binding_id), sorted(KEYMAP_IDS))
            raise ValueError(
                f"{entry}: no key binding has this id{hint}; the README's Keymap table lists them"
            )
        if isinstance(keys, str):
            listed = keys.split(",")
        elif isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
            listed = keys
        else:
            raise ValueError(f'{entry}: expected a key such as "ctrl+t" or a list of keys')
        listed = [k.strip() for k in listed]
        for key in listed:
            problem = _key_problem(key)
            if problem:
                raise ValueError(f"{entry}: {problem}")
        checked[binding_id] = ",".join(listed)
    return checked


class Settings(BaseModel):
    """All aftercare settings, validated and immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: Annotated[str, Field(min_length=1)] = Field(
        default_factory=_default_database_url,
        description="SQLAlchemy database URL.",
    )
    # PostgreSQL logins (docs/deployment.md). "per-person": each operating-system login
    # connects as its own database role over the local socket, so the database itself
    # keeps everyone to their role and names who wrote each audit event. "shared": one
    # login (and password) for everyone, as before: weaker, whoever reads it can change
    # anything. Not the default, so a clinic that has not made the roles keeps working.
    database_logins: str = Field(
        default="shared",
        description=(
            'PostgreSQL: "per-person" (each login connects as its own database role, '
            'docs/deployment.md) or "shared" (one login for everyone; weaker).'
        ),
    )

    @model_validator(mode="after")
    def _check_database_logins(self) -> Settings:
        if self.database_logins not in ("per-person", "shared"):
            raise ValueError('expected "per-person" or "shared"')
        if self.database_logins == "per-person" and self.database_url.startswith("postgresql"):
            from urllib.parse import parse_qs, urlsplit

            parts = urlsplit(self.database_url)
            query = parse_qs(parts.query)
            if "@" in parts.netloc or "user" in query or "password" in query:
                # A ConfigError passes through pydantic as it is: one line even when the
                # URL and this setting come from different places.
                raise ConfigError(
                    'database_logins = "per-person", but database_url names a login or a '
                    "password: leave both out (postgresql+psycopg:///aftercare), each "
                    "person connects as their own login"
                )
        return self

    clinic_timezone: Annotated[str, AfterValidator(_check_timezone)] = Field(
        default="Asia/Seoul",
        description="IANA time zone the clinic works in.",
    )
    clinic_name: str = Field(
        default="aftercare clinic", min_length=1, description="Name shown in the UI."
    )
    clinic_contact: str = Field(
        default="",
        description="How a home physician reaches the clinic (phone, email), "
        "printed on patient exports.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long SQLite waits on a locked database."
    )
    queue_page_size: int = Field(
        default=300, ge=10, le=5000, description="Rows loaded per page of the follow-up queue."
    )
    refresh_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the UI refreshes from the database."
    )
    unreachable_after_attempts: int = Field(
        default=3, ge=1, description="Failed contact attempts before a patient is unreachable."
    )
    quiet_channel_days: int = Field(
        default=7, ge=1, description="Days without replies before a channel counts as quiet."
    )
    reply_window_hours: int = Field(
        default=24,
        ge=1,
        le=168,
        description=(
            "Hours a message may wait for the patient's reply before it counts as a failed "
            "attempt (sending a message is not a failure)."
        ),
    )
    high_dose_glutathione_mg: int = Field(
        default=1200,
        ge=1,
        description=(
            "Glutathione dose in one session (mg) from which an episode gets the week-4 "
            "liver panel reminder."
        ),
    )
    apprise_config: Annotated[str | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, description="Path of an Apprise YAML file for staff alerts."
    )
    alert_stall_grace_seconds: int = Field(
        default=60,
        ge=10,
        le=3600,
        description=(
            "Seconds an alert may wait unsent, with no dispatcher holding it, before every "
            "queue shows 'Physician alerts are NOT being sent'."
        ),
    )
    alert_retry_max_seconds: int = Field(
        default=300,
        ge=30,
        le=3600,
        description=(
            "Longest wait, in seconds, between two tries of a page that could not be "
            "delivered; pages are retried for as long as their alert is open."
        ),
    )
    alert_include_patient_name: bool = Field(
        default=False, description="Whether staff alerts may contain the patient's name."
    )
    web_base_url: Annotated[
        str | None, BeforeValidator(_empty_as_none), AfterValidator(_check_web_base_url)
    ] = Field(
        default=None,
        description=(
            "The public https address the reverse proxy serves `aftercare web` at; when set, "
            "every physician alert carries a signed link to acknowledge it from the phone."
        ),
    )
    web_secret_file: str = Field(
        default="/etc/aftercare/web-secret",
        min_length=1,
        description=(
            "File holding the secret that signs alert links (`aftercare web --init-secret` "
            "creates it, mode 0600); only the alert and web services read it."
        ),
    )
    audit_anchor_file: str = Field(
        default="/var/lib/aftercare-audit/anchors.jsonl",
        min_length=1,
        description=(
            "File the audit chain's anchors are appended to (`aftercare audit anchor`, the "
            "daily anchor, each backup); its folder must be writable by its owner only."
        ),
    )
    escalation_policies: Annotated[
        dict[str, EscalationPolicySetting] | None,
        BeforeValidator(_check_policy_keys),
        BeforeValidator(_json_from_text("JSON tables of policies")),
    ] = Field(
        default=None,
        description="Per-disposition escalation steps overriding the built-in defaults.",
    )
    export_dir: Annotated[str | None, BeforeValidator(_empty_as_none)] = Field(
        default=None,
        description="Folder the TUI writes exports to (default ~/aftercare-exports).",
    )
    keymap: Annotated[
        dict[str, str] | None,
        BeforeValidator(_check_keymap),
        BeforeValidator(_json_from_text("a JSON table of binding id to key(s)")),
    ] = Field(
        default=None,
        description="Key bindings remapped: binding id = key(s); see the README's Keymap table.",
    )
    report_days_life_threatening: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days to the MFDS report for fatal or life-threatening serious events.",
    )
    report_days_serious: int = Field(
        default=15, ge=1, le=365, description="Days to the MFDS report for other serious events."
    )
    report_days_non_serious: int = Field(
        default=30, ge=1, le=365, description="Days to the periodic report for non-serious events."
    )

    @field_validator("*", mode="before")
    @classmethod
    def _plain_text(cls, value: object) -> object:
        # clinic_name titles every screen and clinic_contact is printed on exports: a
        # setting is text, never terminal control (core.plain_text).
        return refuse_control(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_reporting_order(self) -> Settings:
        # ReportingPolicy refuses an inverted clock; fail at load time, not on the day it matters.
        self.reporting_policy()
        return self

    def export_folder(self) -> Path:
        """Where the TUI writes exports: per user, since coordinators share the server."""
        return (
            Path(self.export_dir).expanduser()
            if self.export_dir
            else Path.home() / ("aftercare-exports")
        )

    def reporting_policy(self) -> ReportingPolicy:
        """The incident reporting clock these settings describe."""
        return ReportingPolicy(
            life_threatening_days=self.report_days_life_threatening,
            serious_days=self.report_days_serious,
            non_serious_days=self.report_days_non_serious,
        )


class SettingSource:
    """Builds the strings stored in :attr:`LoadedConfig.sources`.

    A source is ``"default"``, ``"file:<path>"`` or ``"env:<VAR>"``; plain strings keep
    the result trivially printable and comparable in tests.
    """

    DEFAULT: Final = "default"

    @staticmethod
    def file(path: Path) -> str:
        """Return the source description for a value read from the TOML file at *path*."""
        return f"file:{path}"

    @staticmethod
    def env(var: str) -> str:
        """Return the source description for a value read from environment variable *var*."""
        return f"env:{var}"


@dataclass(frozen=True)
class LoadedConfig:
    """The result of :func:`load_config`: settings plus where each value came from."""

    settings: Settings
    sources: dict[str, str]
    path: Path | None


def _env_var_for(field: str) -> str:
    """Return the environment variable that overrides *field*."""
    return f"{ENV_PREFIX}{field.upper()}"


def config_search_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Return the candidate config files, highest priority first.

    If ``AFTERCARE_CONFIG`` is set (and non-empty) it is the only candidate and must exist.
    Otherwise the per-user file (``platformdirs.user_config_dir("aftercare")/config.toml``)
    is tried, then ``/etc/aftercare/config.toml``; the first that exists is used, and if
    none does the defaults apply.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(CONFIG_ENV_VAR, "")
    if explicit:
        return [Path(explicit)]
    return [Path(user_config_dir(APP_NAME)) / "config.toml", SYSTEM_CONFIG_PATH]


def _find_config_file(env: Mapping[str, str]) -> Path | None:
    """Pick the file to load, or None; a named-but-missing file is an error, not a fallback."""
    candidates = config_search_paths(env)
    if env.get(CONFIG_ENV_VAR, ""):
        if not candidates[0].exists():
            raise ConfigError(f"config file {candidates[0]} (from {CONFIG_ENV_VAR}) does not exist")
        return candidates[0]
    return next((p for p in candidates if p.exists()), None)


def _suggest(name: str, known: list[str]) -> str:
    """Return a ' (did you mean ...?)' hint for a misspelt name, or an empty string."""
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _read_file(path: Path) -> dict[str, Any]:
    """Parse *path* as TOML, turning every failure into a ConfigError naming the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: malformed TOML: file is not valid UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        # Usually the message already says "(at line N, column M)"; errors "at end of
        # document" do not, and the admin still needs a line to look at.
        if "line" not in reason:
            reason += f" (line {max(1, len(text.splitlines()))})"
        raise ConfigError(f"{path}: malformed TOML: {reason}") from None


def _unknown_env_vars(env: Mapping[str, str], fields: list[str]) -> list[str]:
    """Return AFTERCARE_* variables that configure nothing, so typos do not go unnoticed."""
    known = {_env_var_for(f) for f in fields} | {CONFIG_ENV_VAR}
    return sorted(
        var
        for var in env
        if var.startswith(ENV_PREFIX) and not var.startswith(TEST_ENV_PREFIX) and var not in known
    )


def _display(field: str, value: object) -> str:
    """Render *value* for humans, hiding secrets."""
    if value is None:
        return NOT_SET
    # A setting that names where a secret is kept (web_secret_file) is a path, not the secret.
    if any(part in field.lower() for part in _SECRET_NAME_PARTS) and not field.endswith("_file"):
        return MASK
    if isinstance(value, bool):
        # Shown the way it would be written in the TOML file.
        return "true" if value else "false"
    if isinstance(value, str):
        return mask_url(value)
    return str(value)


def _format_error(field: str, value: object, source: str, error: Mapping[str, Any]) -> str:
    """Turn one pydantic error into "key = value (from source): expected ..."."""
    # Our own validators phrase the expectation; drop pydantic's "Value error, " prefix.
    own = error["type"] == "value_error"
    reason = str(error["ctx"]["error"]) if own else str(error["msg"])
    if field == "keymap":
        # The reason names the entry; the whole table would only bury it.
        return f"[keymap] (from {source}): {reason}"
    shown = repr(_display(field, value)) if isinstance(value, str) else _display(field, value)
    return f"{field} = {shown} (from {source}): {reason}"


def _validate_one(field: str, value: object, *, strict: bool) -> object:
    """Validate a single setting, reusing the model's own rules for that field.

    The other fields stay at their defaults, so any error belongs to *field*. File values
    are validated strictly because TOML is typed (``"300"`` in the file is a mistake);
    environment values are always strings and need pydantic's lax conversion.
    """
    return getattr(Settings.model_validate({field: value}, strict=strict), field)


def load_config(environ: Mapping[str, str] | None = None, path: Path | None = None) -> LoadedConfig:
    """Load settings from defaults, the config file and ``AFTERCARE_*`` variables.

    *environ* defaults to ``os.environ``; *path* bypasses discovery (the file must then
    exist). Apart from reading the file this has no side effects: nothing is created.
    Raises :class:`ConfigError` on any problem.
    """
    env = os.environ if environ is None else environ
    fields = list(Settings.model_fields)

    if path is None:
        path = _find_config_file(env)
    elif not path.exists():
        raise ConfigError(f"config file {path} does not exist")

    raw: dict[str, tuple[object, str, bool]] = {}  # field -> (value, source, strict)
    if path is not None:
        file_source = SettingSource.file(path)
        for key, value in _read_file(path).items():
            if key not in Settings.model_fields:
                what = "table" if isinstance(value, dict) else "setting"
                raise ConfigError(
                    f"unknown {what} {key!r} in {path}{_suggest(key, fields)}; settings are "
                    f"flat top-level keys: {', '.join(fields)}"
                )
            raw[key] = (value, file_source, True)

    unknown = _unknown_env_vars(env, fields)
    if unknown:
        env_names = [_env_var_for(f) for f in fields]
        hint = _suggest(unknown[0], env_names) if len(unknown) == 1 else ""
        raise ConfigError(
            f"unknown environment variable{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}{hint}; known: {', '.join([CONFIG_ENV_VAR, *env_names])}"
        )
    for field in fields:
        var = _env_var_for(field)
        if var in env:
            raw[field] = (env[var], SettingSource.env(var), False)

    values: dict[str, object] = {}
    errors: list[str] = []
    for field in fields:  # field order keeps multi-error messages stable
        if field not in raw:
            continue
        value, source, strict = raw[field]
        try:
            values[field] = _validate_one(field, value, strict=strict)
        except ValidationError as exc:
            errors.extend(_format_error(field, value, source, e) for e in exc.errors())
    if errors:
        raise ConfigError("; ".join(errors))

    sources = {f: raw[f][1] if f in raw else SettingSource.DEFAULT for f in fields}
    return LoadedConfig(settings=Settings.model_validate(values), sources=sources, path=path)


# userinfo as SQLAlchemy parses it: user is [^:/]*, password runs to the next "@".
_URL_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:/@]*:)(?P<password>[^@]+)(?P<tail>@.*)$")
# libpq (and so psycopg) also accepts the password as a query parameter.
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&]password=)[^&#]+", re.IGNORECASE)


def mask_url(url: str) -> str:
    """Return *url* with any password replaced by ``***``; everything else is unchanged.

    ``postgresql+psycopg://user:pw@host/db`` becomes ``postgresql+psycopg://user:***@host/db``;
    URLs without a password, SQLite paths and non-URL strings come back as given.
    """
    masked = _URL_PASSWORD.sub(rf"\g<head>{MASK}\g<tail>", url)
    return _QUERY_PASSWORD.sub(rf"\g<key>{MASK}", masked)


def describe(loaded: LoadedConfig) -> list[tuple[str, str, str]]:
    """Return ``(key, display value, source)`` rows in field order, secrets masked.

    Meant for ``aftercare config show``: URL passwords are masked, fields whose name
    contains "password", "token" or "secret" are shown as ``***``, and None as
    ``(not set)``.
    """
    return [
        (field, _display(field, getattr(loaded.settings, field)), loaded.sources[field])
        for field in Settings.model_fields
    ]


def schedule_template_dirs(loaded: LoadedConfig) -> list[Path]:
    """Folders an admin drops schedule templates into, lowest priority first.

    `/etc/aftercare/schedules`, the user's `~/.config/aftercare/schedules`, and
    `schedules/` beside the config file in use; later folders override earlier
    ones for a template of the same name. Missing folders are skipped.
    """
    candidates = [
        SYSTEM_CONFIG_PATH.parent / "schedules",
        Path(user_config_dir(APP_NAME)) / "schedules",
    ]
    if loaded.path is not None:
        candidates.append(loaded.path.parent / "schedules")
    unique = list(dict.fromkeys(candidates))
    return [folder for folder in unique if folder.is_dir()]
