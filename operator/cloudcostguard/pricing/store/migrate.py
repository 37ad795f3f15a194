"""Versioned schema migrations: ``migrations/NNNN_name.sql``, applied in order, recorded, locked.

Why a small runner of our own rather than a migration tool: the well-kept tools either bring their
own driver or ORM (Alembic needs SQLAlchemy; yoyo-migrations and Flyway-style tools use psycopg or
JDBC), or are separate binaries (dbmate, sqitch) that the container would have to ship. The product's
dependency list is fixed (asyncpg, no ORM), and what we need is small: ordered SQL files, one
transaction per file, a record of what ran with a checksum, and a lock so that two replicas starting
at once do not both migrate. That is this module.

Guarantees:
- Idempotent: applied migrations are skipped; running ``migrate`` twice changes nothing.
- Safe under concurrency: a session advisory lock serializes runners; the second waits, then finds
  nothing to do.
- Tamper-evident: an applied file whose content changed is an error, as is a database migrated by
  a newer build (its highest version is unknown here).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from cloudcostguard import errors

MIGRATIONS_TABLE = "ccg_schema_migrations"
# pg_advisory_lock(namespace, key): the namespace is "CCG" + 1; keys are listed here so they never clash.
LOCK_NAMESPACE = 0x43434701
MIGRATE_LOCK_KEY = 1
SWITCH_LOCK_KEY = 2
LOAD_LOCK_NAMESPACE = 0x43434702  # key: the loading version's id ("this load is alive")
MIN_SERVER_VERSION = 140000  # partitioned-table features used by the schema (PostgreSQL 14)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    found: list[Migration] = []
    folder = resources.files("cloudcostguard.pricing.store").joinpath("migrations")
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise errors.ConfigurationError("two migration files share a version number")
    return found


async def applied_versions(connection: asyncpg.Connection) -> dict[int, str] | None:
    """{version: checksum} already applied, or None when the store was never migrated."""
    exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", MIGRATIONS_TABLE)
    if not exists:
        return None
    rows = await connection.fetch(f"SELECT version, checksum FROM {MIGRATIONS_TABLE}")
    return {row["version"]: row["checksum"] for row in rows}


async def check_schema(connection: asyncpg.Connection) -> None:
    """Fail with a clear message unless the schema is exactly what this build expects."""
    applied = await applied_versions(connection)
    latest = available_migrations()[-1].version
    if applied is None or not applied:
        raise errors.PricingError(
            "the pricing store is not initialized: run `cloudcostguard pricing migrate`",
            reason="PricingStoreNotMigrated",
        )
    newest = max(applied)
    if newest > latest:
        raise errors.PricingError(
            f"the pricing store's schema (migration {newest}) is newer than this build ({latest})",
            reason="PricingStoreTooNew",
        )
    if newest < latest:
        raise errors.PricingError(
            f"the pricing store's schema is at migration {newest}, this build needs {latest}: "
            "run `cloudcostguard pricing migrate`",
            reason="PricingStoreNotMigrated",
        )


async def migrate(connection: asyncpg.Connection) -> list[Migration]:
    """Apply every pending migration; return those applied by this call (empty when up to date)."""
    server_version = connection.get_server_version()
    server_num = server_version.major * 10000 + server_version.minor
    if server_num < MIN_SERVER_VERSION:
        raise errors.ConfigurationError(
            f"PostgreSQL {server_version.major} is too old for the pricing store (14 or later needed)"
        )
    migrations = available_migrations()
    await connection.execute("SELECT pg_advisory_lock($1, $2)", LOCK_NAMESPACE, MIGRATE_LOCK_KEY)
    try:
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = await applied_versions(connection) or {}
        known = {m.version: m for m in migrations}
        unknown = sorted(set(applied) - set(known))
        if unknown:
            raise errors.PricingError(
                f"the pricing store has migration {unknown[-1]}, unknown to this build: "
                "it was migrated by a newer version",
                reason="PricingStoreTooNew",
            )
        for version, checksum in applied.items():
            if known[version].checksum != checksum:
                raise errors.PricingError(
                    f"migration {version:04d}_{known[version].name} changed after it was applied",
                    reason="PricingStoreMigrationChanged",
                )
        done: list[Migration] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration)
        return done
    finally:
        if not connection.is_closed():
            await connection.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_NAMESPACE, MIGRATE_LOCK_KEY)
