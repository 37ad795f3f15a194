"""asyncpg connections and pools, configured from ``Settings`` only (no credentials in code).

Every connection gets:
- ``command_timeout``: the client-side default timeout of every query it runs;
- ``statement_timeout``: the same bound enforced by the server, so a query abandoned by a client
  that died does not keep running;
- a jsonb codec backed by orjson (attributes are jsonb; orjson is several times faster than json).

Database failures surface as ``PricingError`` with the URL's password removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import orjson

from cloudcostguard import errors
from cloudcostguard.settings import Settings

APPLICATION_NAME = "cloudcostguard"

# Errors that mean "the database cannot be used right now" (as opposed to a bug in a query).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,
)
DATABASE_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.PostgresError)
# Closing a connection that is mid-operation raises RuntimeError/InterfaceError: then terminate it.
CLOSE_ERRORS: tuple[type[BaseException], ...] = (*DATABASE_ERRORS, RuntimeError)


def redact_dsn(dsn: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urllib.parse.urlsplit(dsn)
    except ValueError:
        return "<invalid database URL>"
    if parts.password is None:
        return urllib.parse.urlunsplit(parts._replace(query=""))
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}", query=""))


def describe_error(err: BaseException) -> str:
    """One line naming what failed, without echoing secrets."""
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, asyncpg.PostgresError):
        return f"{type(err).__name__}: {err}".splitlines()[0]
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@contextlib.contextmanager
def database_errors(dsn: str, doing: str) -> Iterator[None]:
    """Turn asyncpg/socket failures into ``PricingError('cannot <doing> (<url>): <why>')``."""
    try:
        yield
    except errors.CloudCostGuardError:
        raise
    except DATABASE_ERRORS as err:
        raise errors.PricingError(
            f"cannot {doing} ({redact_dsn(dsn)}): {describe_error(err)}", reason="PricingStoreUnavailable"
        ) from err


@contextlib.contextmanager
def dsn_errors(dsn: str) -> Iterator[None]:
    """asyncpg reads the URL when connecting and answers a malformed one (a port that is not a number,
    an unclosed IPv6 bracket) with a bare ``ValueError``: a ``ConfigurationError`` naming the URL without
    its password instead of a traceback. Found by tests/reliability/test_secrets.py."""
    try:
        yield
    except ValueError as err:
        shown = redact_dsn(dsn)
        where = "" if shown.startswith("<") else f" ({shown})"
        raise errors.ConfigurationError(
            f"invalid database URL{where}: {_without_password(str(err), dsn)}"
        ) from err


def _without_password(text: str, dsn: str) -> str:
    try:
        password = urllib.parse.urlsplit(dsn).password
    except ValueError:
        password = None
    text = text.splitlines()[0] if text else "malformed"
    return text.replace(password, "***") if password else text


# jsonb's binary wire format is a version byte (1) and the JSON text. Binary, because COPY's binary
# format (what asyncpg's copy_records_to_table speaks) needs a binary codec for every column.
_JSONB_VERSION = b"\x01"


def _jsonb_encode(value: Any) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _jsonb_decode(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )


def connect_kwargs(settings: Settings, *, statement_timeout: float | None = None) -> dict[str, Any]:
    timeout_ms = (
        int(statement_timeout * 1000) if statement_timeout is not None else settings.db_statement_timeout_ms
    )
    return {
        "timeout": settings.db_connect_timeout,
        "command_timeout": settings.db_command_timeout
        if statement_timeout is None
        else max(settings.db_command_timeout, statement_timeout),
        "server_settings": {
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(timeout_ms),
            # JIT compilation costs more than it saves on these short scans (0.3 s per catalog load).
            "jit": "off",
            # A client that dies inside a transaction must not hold its locks (the switch lock) forever.
            "idle_in_transaction_session_timeout": str(max(timeout_ms, 60_000)),
        },
    }


async def connect(
    dsn: str, settings: Settings, *, statement_timeout: float | None = None
) -> asyncpg.Connection:
    """One connection (loads, LISTEN); ``statement_timeout`` (seconds) raises the per-query bound."""
    if not dsn:
        raise errors.ConfigurationError("no database URL: pass --database-url or set CCG_DATABASE_URL")
    with dsn_errors(dsn), database_errors(dsn, "connect to PostgreSQL"):
        # asyncpg's own connect timeout does not cover every step (TLS, auth): bound the whole thing.
        connection = await asyncio.wait_for(
            asyncpg.connect(dsn, **connect_kwargs(settings, statement_timeout=statement_timeout)),
            timeout=settings.db_connect_timeout * 2,
        )
    try:
        await init_connection(connection)
    except BaseException:
        connection.terminate()
        raise
    return connection


async def close_quietly(connection: asyncpg.Connection | None, grace: float = 5.0) -> None:
    """Close within ``grace`` seconds or terminate: shutdown never hangs on a dead server."""
    if connection is None or connection.is_closed():
        return
    try:
        await asyncio.wait_for(connection.close(timeout=grace), timeout=grace + 1)
    except CLOSE_ERRORS:
        connection.terminate()


class Database:
    """A pool with an explicit ``open()``/``close()`` lifecycle (kept in kopf's memo by the operator)."""

    def __init__(self, dsn: str, settings: Settings) -> None:
        if not dsn:
            raise errors.ConfigurationError("no database URL: pass --database-url or set CCG_DATABASE_URL")
        self.dsn = dsn
        self.settings = settings
        self._pool: asyncpg.Pool | None = None

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self) -> None:
        if self._pool is not None:
            return
        settings = self.settings
        with dsn_errors(self.dsn), database_errors(self.dsn, "connect to PostgreSQL"):
            self._pool = await asyncio.wait_for(
                asyncpg.create_pool(
                    self.dsn,
                    min_size=min(settings.db_pool_min_size, settings.db_pool_max_size),
                    max_size=settings.db_pool_max_size,
                    max_inactive_connection_lifetime=settings.db_max_connection_lifetime,
                    init=init_connection,
                    **connect_kwargs(settings),
                ),
                timeout=settings.db_connect_timeout * 2,
            )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=self.settings.db_connect_timeout)
        except CLOSE_ERRORS:
            pool.terminate()

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        with database_errors(self.dsn, "reach PostgreSQL"):
            connection = await self._pool.acquire(timeout=self.settings.db_connect_timeout * 2)
        try:
            yield connection
        finally:
            await self._pool.release(connection, timeout=self.settings.db_connect_timeout)

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
