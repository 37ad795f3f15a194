"""Migrations: from an empty database, re-run, two runners at once, and a changed file."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cloudcostguard import errors
from cloudcostguard.pricing.store import migrate as migrations
from cloudcostguard.pricing.store import pool
from cloudcostguard.settings import Settings

pytestmark = pytest.mark.postgres

TABLES = {
    "ccg_pricing_version",
    "ccg_pricing_current",
    "ccg_product",
    "ccg_price",
    "ccg_catalog_blob",
    "ccg_schema_migrations",
}


async def _tables(connection: asyncpg.Connection) -> set[str]:
    rows = await connection.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    )
    return {row["relname"] for row in rows}


async def test_migrate_from_empty_creates_the_schema_and_records_it(
    empty_store_url: str, settings: Settings
) -> None:
    connection = await pool.connect(empty_store_url, settings)
    try:
        assert await _tables(connection) == set()

        applied = await migrations.migrate(connection)

        assert [m.version for m in applied] == [m.version for m in migrations.available_migrations()]
        assert await _tables(connection) == TABLES
        recorded = await connection.fetch(
            "SELECT version, name, checksum FROM ccg_schema_migrations ORDER BY 1"
        )
        assert [(r["version"], r["name"], r["checksum"]) for r in recorded] == [
            (m.version, m.name, m.checksum) for m in applied
        ]
        await migrations.check_schema(connection)  # does not raise
    finally:
        await connection.close()


async def test_running_migrate_again_changes_nothing(empty_store_url: str, settings: Settings) -> None:
    connection = await pool.connect(empty_store_url, settings)
    try:
        await migrations.migrate(connection)
        before = await connection.fetch("SELECT version, applied_at FROM ccg_schema_migrations")

        assert await migrations.migrate(connection) == []

        assert await connection.fetch("SELECT version, applied_at FROM ccg_schema_migrations") == before
    finally:
        await connection.close()


async def test_two_replicas_migrating_at_once_apply_each_migration_once(
    empty_store_url: str, settings: Settings
) -> None:
    first, second = (
        await pool.connect(empty_store_url, settings),
        await pool.connect(empty_store_url, settings),
    )
    try:
        results = await asyncio.gather(migrations.migrate(first), migrations.migrate(second))

        assert sorted(len(r) for r in results) == [0, len(migrations.available_migrations())]
        assert await first.fetchval("SELECT count(*) FROM ccg_schema_migrations") == len(
            migrations.available_migrations()
        )
    finally:
        await first.close()
        await second.close()


async def test_an_unmigrated_store_is_reported_as_such(empty_store_url: str, settings: Settings) -> None:
    connection = await pool.connect(empty_store_url, settings)
    try:
        with pytest.raises(
            errors.PricingError, match="not initialized: run `cloudcostguard pricing migrate`"
        ) as caught:
            await migrations.check_schema(connection)
        assert caught.value.reason == "PricingStoreNotMigrated"
    finally:
        await connection.close()


async def test_a_migration_changed_after_it_ran_is_refused(store_url: str, settings: Settings) -> None:
    connection = await pool.connect(store_url, settings)
    try:
        await connection.execute("UPDATE ccg_schema_migrations SET checksum = 'edited' WHERE version = 1")

        with pytest.raises(
            errors.PricingError, match="migration 0001_pricing_versions changed after it was applied"
        ):
            await migrations.migrate(connection)
    finally:
        await connection.close()


async def test_a_store_migrated_by_a_newer_build_is_refused(store_url: str, settings: Settings) -> None:
    connection = await pool.connect(store_url, settings)
    try:
        await connection.execute(
            "INSERT INTO ccg_schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )

        with pytest.raises(errors.PricingError, match="migration 9999, unknown to this build"):
            await migrations.migrate(connection)
        with pytest.raises(errors.PricingError, match="newer than this build"):
            await migrations.check_schema(connection)
    finally:
        await connection.close()
