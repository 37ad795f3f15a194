"""Database URLs in messages: the password never shows, a malformed URL is one line, not a traceback."""

from __future__ import annotations

import asyncio

import pytest

from cloudcostguard import errors
from cloudcostguard.pricing.store import pool
from cloudcostguard.settings import Settings

PASSWORD = "s3cr3t-pw"


def test_the_password_is_redacted_and_the_query_dropped() -> None:
    assert (
        pool.redact_dsn(f"postgresql://app:{PASSWORD}@db:5432/ccg?password={PASSWORD}")
        == "postgresql://app:***@db:5432/ccg"
    )
    assert pool.redact_dsn("postgresql://[::1/ccg") == "<invalid database URL>"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            f"postgresql://app:{PASSWORD}@127.0.0.1:notaport/ccg",
            "invalid database URL (postgresql://app:***@127.0.0.1:notaport/ccg): "
            "invalid literal for int() with base 10: 'notaport'",
        ),
        (f"postgresql://app:{PASSWORD}@[::1/ccg", "invalid database URL: Invalid IPv6 URL"),
    ],
)
def test_a_malformed_url_is_a_configuration_error_without_the_password(url: str, message: str) -> None:
    # asyncpg raised a bare ValueError (a traceback from the CLI); found by tests/reliability/test_secrets.py.
    settings = Settings(db_connect_timeout=1.0)
    with pytest.raises(errors.ConfigurationError) as connecting:
        asyncio.run(pool.connect(url, settings))
    assert str(connecting.value) == message

    async def open_pool() -> None:
        await pool.Database(url, settings).open()

    with pytest.raises(errors.ConfigurationError) as opening:
        asyncio.run(open_pool())
    assert str(opening.value) == message
    assert PASSWORD not in str(connecting.value) + str(opening.value)
