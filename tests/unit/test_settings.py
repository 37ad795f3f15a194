"""The one settings object: environment variables with the CCG_ prefix, flags over them, failures that
name the variable, no default credentials, listen addresses read one way."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from cloudcostguard import errors
from cloudcostguard.settings import Settings, listen_address, load_settings


def test_defaults_need_no_configuration_and_carry_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("CCG_")]:
        monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.database_url is None  # the bundled snapshot, not a default database
    assert (settings.default_region, settings.hours_per_month) == ("us-east-1", Decimal(730))
    assert (settings.webhook_cert_file, settings.webhook_key_file) == (None, None)


def test_the_environment_is_read_with_the_prefix_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCG_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("CCG_RETRY_DELAY", "2.5")
    monkeypatch.setenv("CCG_CATALOG_CACHE_FILE", "/var/cache/ccg.json")
    settings = load_settings(default_region="ap-south-1", retry_delay=None)  # None: the flag was not given
    assert settings.default_region == "ap-south-1"
    assert settings.retry_delay == 2.5
    assert settings.catalog_cache_file == Path("/var/cache/ccg.json")


def test_a_secret_setting_does_not_show_in_its_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCG_DATABASE_URL", "postgresql://user:hunter2@db/prices")
    settings = load_settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://user:hunter2@db/prices"
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CCG_RETRY_DELAY",
            "soon",
            "invalid setting CCG_RETRY_DELAY: Input should be a valid number, unable to parse string as a "
            "number",
        ),
        ("CCG_MAX_PLAN_BYTES", "0", "invalid setting CCG_MAX_PLAN_BYTES: Input should be greater than 0"),
        ("CCG_LOG_FORMAT", "xml", "invalid setting CCG_LOG_FORMAT: Input should be 'json' or 'text'"),
    ],
)
def test_a_bad_value_fails_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(errors.ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.retry_delay = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("0.0.0.0:9443", ("0.0.0.0", 9443)),
        (":8443", (None, 8443)),
        ("[::1]:9443", ("::1", 9443)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
    ],
)
def test_listen_addresses(listen: str, expected: tuple[str | None, int]) -> None:
    assert listen_address(listen, "webhook_listen") == expected


@pytest.mark.parametrize("listen", ["9443", "host:http", "1.2.3.4:70000", "1.2.3.4:-1"])
def test_a_bad_listen_address_names_its_variable(listen: str) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        listen_address(listen, "webhook_listen")
    assert str(caught.value) == f"invalid setting CCG_WEBHOOK_LISTEN: {listen!r} is not HOST:PORT"
