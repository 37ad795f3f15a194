"""Each pricing version's compiled catalog, stored beside its rows (``ccg_catalog_blob``).

Building the catalog from a version's rows takes about a second of CPU on a hundred thousand
products (decoding rows, grouping tiers, parsing attributes, interning values); decoding the same
catalog in the cache file's binary form (``pricing.cache_file``) takes a sixth of that. So
``pricing load`` builds the new version's catalog once, from its still detached tables, exactly as a
reader would build it from rows, and stores that encoding in the transaction that makes the version
current; the operator's provider and ``estimate --database-url`` fetch one value and decode it.

A blob that is absent (a version loaded before migration 0002), of another format (another build or
Python), damaged (its sha256 or size does not match) or of another catalog version is not an error
for a reader: ``load_version_catalog`` logs one line and builds from the rows, as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from cloudcostguard import errors
from cloudcostguard.pricing import cache_file
from cloudcostguard.pricing.catalog import InMemoryCatalog
from cloudcostguard.pricing.store.store import (
    CATALOG_SOURCE,
    CatalogProduct,
    catalog_from_products,
    fetch_detached_products,
    fetch_products,
)

log = logging.getLogger("cloudcostguard.pricing.catalog")

# Read in slices: each one a statement bounded by the connection's command timeout, however large
# the catalog (the whole of AWS is far larger than one region's EC2), and no slice is decompressed
# from the start (the column is stored uncompressed, migration 0002).
CHUNK_BYTES = 4 * 2**20

IndexKey = tuple[str, str, tuple[str, ...]]  # an index a catalog was asked for: (service, region, names)


@dataclass(frozen=True, slots=True)
class Blob:
    version: str  # the catalog version it holds (``catalog_version``)
    format: str
    sha256: str
    payload: bytes


def encode(catalog: InMemoryCatalog) -> Blob:
    payload = cache_file.dump_catalog(catalog)
    return Blob(catalog.version, cache_file.FORMAT_TAG, hashlib.sha256(payload).hexdigest(), payload)


async def build_detached(connection: asyncpg.Connection, version_id: int, version: str) -> Blob:
    """The blob of a loading version, from its own (detached) tables: the catalog a reader would
    build from its rows once attached (the same row reading, the same build)."""
    products = await fetch_detached_products(connection, version_id)
    if not products:
        raise errors.PricingError(f"pricing version {version_id} has no products to compile")
    # Seconds of CPU on a large version: in a thread, so the event loop (signals, the load's
    # connections) keeps running.
    return await asyncio.to_thread(_compile, products, version)


def _compile(products: list[CatalogProduct], version: str) -> Blob:
    return encode(catalog_from_products(products, version=version))


async def store_blob(connection: asyncpg.Connection, version_id: int, blob: Blob) -> None:
    await connection.execute(
        "INSERT INTO ccg_catalog_blob (version_id, format, sha256, size, bytes) VALUES ($1, $2, $3, $4, $5)",
        version_id,
        blob.format,
        blob.sha256,
        len(blob.payload),
        blob.payload,
    )


async def fetch_blob(connection: asyncpg.Connection, version_id: int) -> bytearray | None:
    """The version's blob, verified; None when it has none. ``PricingError`` when it cannot be used."""
    # One snapshot for the slices: a prune deleting the version meanwhile cannot cut the value short.
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        row = await connection.fetchrow(
            "SELECT format, sha256, size, octet_length(bytes) AS stored FROM ccg_catalog_blob"
            " WHERE version_id = $1",
            version_id,
        )
        if row is None:
            return None
        if row["format"] != cache_file.FORMAT_TAG:
            raise errors.PricingError(
                f"the catalog blob of pricing version {version_id} has format {row['format']!r}, "
                f"this build reads {cache_file.FORMAT_TAG!r}"
            )
        size = row["stored"]
        if size != row["size"]:
            raise errors.PricingError(
                f"the catalog blob of pricing version {version_id} is {size} bytes, not {row['size']}"
            )
        payload = bytearray(size)
        for start in range(0, size, CHUNK_BYTES):
            chunk: bytes = await connection.fetchval(
                "SELECT substring(bytes FROM $2 FOR $3) FROM ccg_catalog_blob WHERE version_id = $1",
                version_id,
                start + 1,
                CHUNK_BYTES,
            )
            payload[start : start + len(chunk)] = chunk
            del chunk
    if hashlib.sha256(payload).hexdigest() != row["sha256"]:
        raise errors.PricingError(
            f"the catalog blob of pricing version {version_id} is damaged (its sha256 does not match)"
        )
    return payload


def decode(
    payload: bytearray,
    version_id: int,
    version: str,
    *,
    services: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
) -> InMemoryCatalog:
    """The catalog in ``payload`` (emptied once decoded: the bytes are not kept beside the catalog),
    limited to ``services``/``regions`` as the rows query limits them."""
    service_set = frozenset(services) if services else None
    region_set = frozenset(regions) if regions else None

    def keep(service: str, region: str) -> bool:
        return (service_set is None or service in service_set) and (
            region_set is None or region in region_set or region == "global"
        )

    try:
        return cache_file.load_catalog(
            payload,
            source=CATALOG_SOURCE,
            where=f"the catalog blob of pricing version {version_id}",
            version=version,
            keep=None if service_set is None and region_set is None else keep,
        )
    finally:
        payload.clear()


async def load_version_catalog(
    connection: asyncpg.Connection,
    version_id: int,
    version: str,
    *,
    services: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    warm: Iterable[IndexKey] = (),
) -> InMemoryCatalog:
    """The version's catalog: decoded from its blob, else (logged, one line) built from its rows.

    Decoding and building run in a worker thread (seconds of CPU on a large version), as does the
    building of the ``warm`` indexes (those the catalog it replaces was asked for)."""
    keys = list(warm)
    reason: str
    try:
        payload = await fetch_blob(connection, version_id)
    except errors.PricingError as err:
        payload, reason = None, str(err)
    else:
        reason = f"pricing version {version_id} has no catalog blob (loaded by an older build)"
    if payload is not None:
        try:
            return await asyncio.to_thread(
                _decoded, payload, version_id, version, services=services, regions=regions, warm=keys
            )
        except errors.PricingError as err:
            reason = str(err)
    log.warning(
        "no usable catalog blob: building the price catalog from rows",
        extra={"version": version, "reason": reason},
    )
    products = await fetch_products(connection, version_id, services=services, regions=regions)
    return await asyncio.to_thread(_built, products, version, keys)


def _decoded(
    payload: bytearray,
    version_id: int,
    version: str,
    *,
    services: Sequence[str] | None,
    regions: Sequence[str] | None,
    warm: list[IndexKey],
) -> InMemoryCatalog:
    catalog = decode(payload, version_id, version, services=services, regions=regions)
    catalog.build_indexes(warm)
    return catalog


def _built(products: list[CatalogProduct], version: str, warm: list[IndexKey]) -> InMemoryCatalog:
    catalog = catalog_from_products(products, version=version)
    del products[:]  # consumed by the build already; nothing of the rows outlives it
    catalog.build_indexes(warm)
    return catalog
