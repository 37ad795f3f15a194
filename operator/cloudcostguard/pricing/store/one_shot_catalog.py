"""One-shot catalog load for the CLI: ``cloudcostguard estimate --database-url URL``.

The CLI prices one plan and exits, so there is no refresh, no cache file and no fallback here: a
store that cannot be read is an error the user should see (exit 2), not a silent switch to other
prices. Long-running processes use ``PostgresCatalogProvider`` instead.
"""

from __future__ import annotations

import asyncio

from cloudcostguard import errors
from cloudcostguard.pricing.catalog import InMemoryCatalog
from cloudcostguard.pricing.store import catalog_blob, pool, store
from cloudcostguard.pricing.store.migrate import check_schema
from cloudcostguard.settings import Settings


def load_catalog_once(database_url: str, settings: Settings) -> InMemoryCatalog:
    """The current pricing version as an in-memory catalog (limited by CCG_PRICING_SERVICES/REGIONS)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(load_catalog(database_url, settings))
    raise errors.PricingError("load_catalog_once cannot run inside an event loop: await load_catalog()")


async def load_catalog(database_url: str, settings: Settings) -> InMemoryCatalog:
    connection = await pool.connect(database_url, settings)
    try:
        with pool.database_errors(database_url, "read prices from PostgreSQL"):
            await check_schema(connection)
            info = await store.current_version(connection)
            if info is None:
                raise errors.PricingError(
                    "the pricing store has no current version: run `cloudcostguard pricing load`",
                    reason="PricingStoreEmpty",
                )
            # The version's catalog blob when it has one (decoded: a sixth of the CPU of a build
            # from rows), else its rows.
            return await catalog_blob.load_version_catalog(
                connection,
                info.id,
                info.catalog_version,
                services=list(settings.pricing_services) or None,
                regions=list(settings.pricing_regions) or None,
            )
    finally:
        await pool.close_quietly(connection)
