"""Tests for core.config: discovery, precedence, validation errors and masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import config
from core.config import (
    ConfigError,
    Settings,
    config_search_paths,
    describe,
    load_config,
    mask_url,
)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs and the system path into tmp_path so the real machine never leaks in."""
    user_cfg = tmp_path / "user-config"
    user_data = tmp_path / "user-data"
    monkeypatch.setattr(config, "user_config_dir", lambda appname: str(user_cfg / appname))
    monkeypatch.setattr(config, "user_data_dir", lambda appname: str(user_data / appname))
    monkeypatch.setattr(config, "SYSTEM_CONFIG_PATH", tmp_path / "etc" / "config.toml")
    return tmp_path


def write(path: Path, text: str) -> Path:
    """Write a config file, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(environ: dict[str, str], path: Path | None = None) -> str:
    """Run load_config expecting a ConfigError and return its (single-line) message."""
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ, path=path)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- defaults and precedence -------------------------------------------------------------


def test_defaults_without_file_or_env(tmp_path: Path) -> None:
    loaded = load_config(environ={})
    s = loaded.settings
    assert loaded.path is None
    assert s.database_url == f"sqlite:///{tmp_path / 'user-data' / 'aftercare' / 'aftercare.db'}"
    assert s.clinic_timezone == "Asia/Seoul"
    assert s.clinic_name == "aftercare clinic"
    assert s.sqlite_busy_timeout_ms == 5000
    assert s.queue_page_size == 300
    assert s.refresh_seconds == 1.0
    assert s.unreachable_after_attempts == 3
    assert s.quiet_channel_days == 7
    assert s.apprise_config is None
    assert s.alert_include_patient_name is False
    assert set(loaded.sources) == set(Settings.model_fields)
    assert set(loaded.sources.values()) == {"default"}


def test_file_overrides_default(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'queue_page_size = 50\nclinic_name = "Gangnam Dental"\n')
    loaded = load_config(environ={}, path=cfg)
    assert loaded.path == cfg
    assert loaded.settings.queue_page_size == 50
    assert loaded.settings.clinic_name == "Gangnam Dental"
    assert loaded.sources["queue_page_size"] == f"file:{cfg}"
    assert loaded.sources["refresh_seconds"] == "default"


def test_env_overrides_file_and_sources_are_reported(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "queue_page_size = 50\nrefresh_seconds = 2\n")
    env = {
        "AFTERCARE_QUEUE_PAGE_SIZE": "75",
        "AFTERCARE_ALERT_INCLUDE_PATIENT_NAME": "yes",
        "AFTERCARE_APPRISE_CONFIG": "/srv/apprise.yml",
    }
    loaded = load_config(environ=env, path=cfg)
    s = loaded.settings
    assert s.queue_page_size == 75
    assert s.refresh_seconds == 2.0
    assert s.alert_include_patient_name is True
    assert s.apprise_config == "/srv/apprise.yml"
    assert loaded.sources["queue_page_size"] == "env:AFTERCARE_QUEUE_PAGE_SIZE"
    assert loaded.sources["refresh_seconds"] == f"file:{cfg}"
    assert (
        loaded.sources["alert_include_patient_name"] == "env:AFTERCARE_ALERT_INCLUDE_PATIENT_NAME"
    )
    assert loaded.sources["clinic_name"] == "default"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("no", False)],
)
def test_env_bool_spellings(raw: str, expected: bool) -> None:
    loaded = load_config(environ={"AFTERCARE_ALERT_INCLUDE_PATIENT_NAME": raw})
    assert loaded.settings.alert_include_patient_name is expected


def test_empty_optional_value_means_not_set() -> None:
    loaded = load_config(environ={"AFTERCARE_APPRISE_CONFIG": ""})
    assert loaded.settings.apprise_config is None
    assert loaded.sources["apprise_config"] == "env:AFTERCARE_APPRISE_CONFIG"


def test_settings_is_frozen() -> None:
    settings = load_config(environ={}).settings
    with pytest.raises(ValueError):
        settings.queue_page_size = 10


# --- discovery ---------------------------------------------------------------------------


def test_search_paths_user_then_system(tmp_path: Path) -> None:
    assert config_search_paths({}) == [
        tmp_path / "user-config" / "aftercare" / "config.toml",
        tmp_path / "etc" / "config.toml",
    ]


def test_search_paths_env_var_is_the_only_candidate(tmp_path: Path) -> None:
    target = tmp_path / "x.toml"
    assert config_search_paths({"AFTERCARE_CONFIG": str(target)}) == [target]


def test_discovery_prefers_user_file_over_system(tmp_path: Path) -> None:
    system = write(tmp_path / "etc" / "config.toml", "quiet_channel_days = 9\n")
    assert load_config(environ={}).path == system
    user = write(tmp_path / "user-config" / "aftercare" / "config.toml", "quiet_channel_days = 4\n")
    loaded = load_config(environ={})
    assert loaded.path == user
    assert loaded.settings.quiet_channel_days == 4


def test_aftercare_config_env_var_is_used(tmp_path: Path) -> None:
    write(tmp_path / "user-config" / "aftercare" / "config.toml", "quiet_channel_days = 4\n")
    chosen = write(tmp_path / "chosen.toml", "quiet_channel_days = 12\n")
    loaded = load_config(environ={"AFTERCARE_CONFIG": str(chosen)})
    assert loaded.path == chosen
    assert loaded.settings.quiet_channel_days == 12


def test_aftercare_config_pointing_at_missing_file_errors(tmp_path: Path) -> None:
    # A user file exists, but an explicit choice must not silently fall back to it.
    write(tmp_path / "user-config" / "aftercare" / "config.toml", "")
    missing = tmp_path / "nope.toml"
    message = error_of(environ={"AFTERCARE_CONFIG": str(missing)})
    assert str(missing) in message
    assert "AFTERCARE_CONFIG" in message


def test_explicit_missing_path_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert str(missing) in error_of(environ={}, path=missing)


# --- errors ------------------------------------------------------------------------------


def test_unknown_file_key_names_key_and_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "queue_page_sise = 50\n")
    message = error_of(environ={}, path=cfg)
    assert "'queue_page_sise'" in message
    assert str(cfg) in message
    assert "queue_page_size" in message  # the suggestion


def test_tables_are_rejected(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[database]\nurl = "sqlite://"\n')
    message = error_of(environ={}, path=cfg)
    assert "'database'" in message
    assert str(cfg) in message


def test_unknown_env_var_names_it() -> None:
    message = error_of(environ={"AFTERCARE_QUEUE_SIZE": "10"})
    assert "AFTERCARE_QUEUE_SIZE" in message


def test_test_suite_and_config_env_vars_are_allowed(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "")
    env = {
        "AFTERCARE_CONFIG": str(cfg),
        "AFTERCARE_TEST_POSTGRES_URL": "postgresql+psycopg://u:p@h/db",
        "AFTERCARE_TEST_ANYTHING": "x",
        "UNRELATED": "1",
    }
    assert load_config(environ=env).path == cfg


def test_bad_int_from_env_names_var_and_expectation() -> None:
    message = error_of(environ={"AFTERCARE_QUEUE_PAGE_SIZE": "lots"})
    assert "queue_page_size" in message
    assert "env:AFTERCARE_QUEUE_PAGE_SIZE" in message
    assert "'lots'" in message
    assert "integer" in message


def test_out_of_range_from_file_names_file_and_bound(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "queue_page_size = 5\n")
    message = error_of(environ={}, path=cfg)
    assert "queue_page_size" in message
    assert f"file:{cfg}" in message
    assert "10" in message


def test_file_values_are_typed(tmp_path: Path) -> None:
    # TOML has real types, so a quoted number in the file is a mistake worth reporting.
    cfg = write(tmp_path / "c.toml", 'queue_page_size = "300"\n')
    message = error_of(environ={}, path=cfg)
    assert "queue_page_size" in message
    assert "integer" in message


@pytest.mark.parametrize("value", ["0", "-1", "61"])
def test_refresh_seconds_bounds(value: str) -> None:
    assert "refresh_seconds" in error_of(environ={"AFTERCARE_REFRESH_SECONDS": value})


def test_bad_timezone_names_key_and_value(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'clinic_timezone = "Asia/Seol"\n')
    message = error_of(environ={}, path=cfg)
    assert "clinic_timezone" in message
    assert "'Asia/Seol'" in message
    assert f"file:{cfg}" in message


@pytest.mark.parametrize("value", ["", "America", "../etc/passwd", "/etc/passwd"])
def test_malformed_timezone_keys_are_config_errors(value: str) -> None:
    assert "clinic_timezone" in error_of(environ={"AFTERCARE_CLINIC_TIMEZONE": value})


def test_valid_timezone_from_env() -> None:
    loaded = load_config(environ={"AFTERCARE_CLINIC_TIMEZONE": "Europe/Berlin"})
    assert loaded.settings.clinic_timezone == "Europe/Berlin"


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'clinic_name = "ok"\nqueue_page_size = = 3\n')
    message = error_of(environ={}, path=cfg)
    assert str(cfg) in message
    assert "line 2" in message


def test_malformed_toml_at_end_of_document_still_names_a_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'clinic_name = "ok"\nqueue_page_size = [1,\n')
    message = error_of(environ={}, path=cfg)
    assert str(cfg) in message
    assert "line 2" in message


def test_invalid_utf8_names_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b'clinic_name = "\xff"\n')
    assert str(cfg) in error_of(environ={}, path=cfg)


def test_several_errors_reported_in_one_line() -> None:
    message = error_of(
        environ={"AFTERCARE_QUEUE_PAGE_SIZE": "x", "AFTERCARE_QUIET_CHANNEL_DAYS": "0"}
    )
    assert "queue_page_size" in message
    assert "quiet_channel_days" in message


def test_error_does_not_leak_database_password(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'database_url = "postgresql://u:hunter2@h/db"\nx = 1\n')
    assert "hunter2" not in error_of(environ={}, path=cfg)


# --- masking -----------------------------------------------------------------------------


def test_mask_url_hides_postgres_password() -> None:
    masked = mask_url("postgresql+psycopg://clinic:s3cr3t@db.example:5432/aftercare")
    assert masked == "postgresql+psycopg://clinic:***@db.example:5432/aftercare"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/aftercare/aftercare.db",
        "sqlite:///relative/path:with@odd.db",
        "postgresql+psycopg://clinic@db.example/aftercare",
        "postgresql:///aftercare",
        "not a url",
    ],
)
def test_mask_url_leaves_urls_without_password_alone(url: str) -> None:
    assert mask_url(url) == url


def test_mask_url_handles_at_sign_and_query_password() -> None:
    assert mask_url("postgresql://u:p/w@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql://u@h/db?sslmode=require&password=pw") == (
        "postgresql://u@h/db?sslmode=require&password=***"
    )


def test_describe_masks_and_reports_sources(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'database_url = "postgresql+psycopg://u:hunter2@h/db"\n')
    loaded = load_config(environ={"AFTERCARE_QUEUE_PAGE_SIZE": "40"}, path=cfg)
    rows = describe(loaded)
    assert [row[0] for row in rows] == list(Settings.model_fields)
    by_key = {key: (value, source) for key, value, source in rows}
    assert by_key["database_url"] == ("postgresql+psycopg://u:***@h/db", f"file:{cfg}")
    assert by_key["queue_page_size"] == ("40", "env:AFTERCARE_QUEUE_PAGE_SIZE")
    assert by_key["apprise_config"] == ("(not set)", "default")
    assert by_key["alert_include_patient_name"] == ("false", "default")
    assert all("hunter2" not in value for _, value, _ in rows)


def test_secret_named_fields_are_fully_masked() -> None:
    # No current setting is secret-named; this guards the rule describe() applies when one is.
    assert config._display("smtp_password", "pw") == "***"
    assert config._display("API_TOKEN", "postgresql://u@h/db") == "***"
    assert config._display("webhook_secret", None) == "(not set)"
    assert config._display("clinic_name", "pw") == "pw"
