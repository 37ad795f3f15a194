"""PostgreSQL for the pricing-store tests.

The server is the one at ``CCG_TEST_DATABASE_URL`` (default: the Makefile's,
``postgresql://postgres@127.0.0.1:5432/cloudcostguard_test``). The database is created when missing.
Each test gets a schema of its own, migrated, and dropped afterwards: the store's SQL names its tables
unqualified, and the test URL sets ``search_path`` (asyncpg passes URL query parameters to the server).

When PostgreSQL cannot be reached the tests are skipped with the reason, unless
``CCG_REQUIRE_DATABASE=1`` (CI), in which case they fail.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from cloudcostguard.pricing.store import pool
from cloudcostguard.pricing.store.migrate import migrate
from cloudcostguard.settings import Settings

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/cloudcostguard_test"
CONNECT_TIMEOUT = 5.0


def configured_database_url() -> str:
    return os.environ.get("CCG_TEST_DATABASE_URL") or DEFAULT_URL


def with_search_path(url: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["search_path"] = schema
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def make_settings(**overrides: object) -> Settings:
    """Short connect timeouts: an unreachable database fails a test in seconds, not minutes."""
    values: dict[str, object] = {"db_connect_timeout": 2.0, "db_command_timeout": 30.0} | overrides
    return Settings(**values)  # type: ignore[arg-type]


async def _ensure_database(url: str) -> None:
    try:
        connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except asyncpg.InvalidCatalogNameError:
        parts = urllib.parse.urlsplit(url)
        name = parts.path.lstrip("/")
        admin = await asyncpg.connect(
            urllib.parse.urlunsplit(parts._replace(path="/postgres", query="")), timeout=CONNECT_TIMEOUT
        )
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass  # another test process created it meanwhile
        finally:
            await admin.close()
    else:
        await connection.close()


@pytest.fixture(scope="session")
def database_url() -> str:
    url = configured_database_url()
    try:
        asyncio.run(asyncio.wait_for(_ensure_database(url), timeout=CONNECT_TIMEOUT * 3))
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        message = f"PostgreSQL unreachable at {pool.redact_dsn(url)}: {pool.describe_error(err)}"
        if os.environ.get("CCG_REQUIRE_DATABASE") == "1":
            pytest.fail(message + " (CCG_REQUIRE_DATABASE=1)")
        pytest.skip(message)
    return url


async def _create_schema(url: str, schema: str) -> None:
    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()
    scoped = await pool.connect(with_search_path(url, schema), make_settings())
    try:
        await migrate(scoped)
    finally:
        await scoped.close()


async def _drop_schema(url: str, schema: str) -> None:
    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def _schema_name() -> str:
    return f"ccg_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def empty_store_url(database_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh, empty (not migrated) schema."""
    schema = _schema_name()

    async def create() -> None:
        connection = await asyncpg.connect(database_url, timeout=CONNECT_TIMEOUT)
        try:
            await connection.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await connection.close()

    asyncio.run(create())
    yield with_search_path(database_url, schema)
    asyncio.run(_drop_schema(database_url, schema))


@pytest.fixture
def store_url(database_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh, migrated schema (dropped after the test)."""
    schema = _schema_name()
    asyncio.run(_create_schema(database_url, schema))
    yield with_search_path(database_url, schema)
    asyncio.run(_drop_schema(database_url, schema))


@pytest.fixture
def settings() -> Settings:
    return make_settings()
