"""One-shot catalog load for the CLI: ``cloudcostguard estimate --database-url URL``.

The CLI prices one plan and exits, so there is no refresh, no cache file and no fallback here: a
store that cannot be read is an error the user should see (exit 2), not a silent switch to other
prices. Long-running processes use ``PostgresCatalogProvider`` instead.
"""

from __future__ import annotations

import asyncio

from cloudcostguard import errors
from cloudcostguard.pricing.catalog import InMemoryCatalog
from cloudcostguard.pricing.store import pool, store
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
            catalog = await store.load_catalog(
                connection,
                services=list(settings.pricing_services) or None,
                regions=list(settings.pricing_regions) or None,
            )
    finally:
        await pool.close_quietly(connection)
    if catalog is None:
        raise errors.PricingError(
            "the pricing store has no current version: run `cloudcostguard pricing load`",
            reason="PricingStoreEmpty",
        )
    return catalog
