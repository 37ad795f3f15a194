"""Pricing versions in PostgreSQL: what exists, which is current, pruning, and the catalog's rows.

Schema (``migrations/0001_pricing_versions.sql``): ``ccg_pricing_version`` (one row per load),
``ccg_pricing_current`` (one row: the current version), and ``ccg_product``/``ccg_price``,
partitioned by version. A version's rows live in ``ccg_product_v<ID>``/``ccg_price_v<ID>``: filled
while detached, attached when the version becomes current, dropped by ``prune``.

Every function takes a connection; timeouts come from the connection (``pool.connect_kwargs``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from cloudcostguard import errors
from cloudcostguard.performance import paused_gc
from cloudcostguard.pricing.catalog import InMemoryCatalog, Price, PriceRecord, PriceTier, ShapedAttributes
from cloudcostguard.pricing.snapshot import SNAPSHOT_FORMAT
from cloudcostguard.pricing.store.migrate import (
    LOAD_LOCK_NAMESPACE,
    LOCK_NAMESPACE,
    SWITCH_LOCK_KEY,
    check_schema,
)

CHANNEL = "cloudcostguard_pricing"  # NOTIFY payload: the new current version's id
CATALOG_SOURCE = "postgresql"
PRUNE_LOCK_TIMEOUT_MS = 10_000  # dropping a partition briefly locks the parent: never queue readers long


def product_table(version_id: int) -> str:
    return f"ccg_product_v{int(version_id)}"


def price_table(version_id: int) -> str:
    return f"ccg_price_v{int(version_id)}"


def catalog_version(version_id: int, digest: str | None) -> str:
    """The catalog's version string: the same for the same pricing version wherever it is loaded."""
    return f"pg-{version_id}-{(digest or 'nodigest')[:12]}"


def lock_key(version_id: int) -> int:
    return int(version_id) % 2**31


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: int
    state: str  # loading | ready | failed | abandoned (a load whose process is gone)
    source: str
    publication_date: datetime | None
    digest: str | None
    product_count: int
    price_count: int
    files: list[dict[str, Any]]
    counts: dict[str, dict[str, int]]
    base_version_id: int | None
    carried_over: list[list[str]]
    error: str | None
    created_at: datetime
    ready_at: datetime | None
    is_current: bool

    @property
    def catalog_version(self) -> str:
        return catalog_version(self.id, self.digest)

    def age_seconds(self, now: datetime | None = None) -> float | None:
        if self.ready_at is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.ready_at).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "current": self.is_current,
            "source": self.source,
            "publicationDate": _iso(self.publication_date),
            "digest": self.digest,
            "catalogVersion": self.catalog_version if self.state == "ready" else None,
            "products": self.product_count,
            "prices": self.price_count,
            "counts": self.counts,
            "files": self.files,
            "baseVersion": self.base_version_id,
            "carriedOver": self.carried_over,
            "error": self.error,
            "createdAt": _iso(self.created_at),
            "readyAt": _iso(self.ready_at),
            "ageSeconds": None if self.age_seconds() is None else round(self.age_seconds() or 0.0),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_VERSION_COLUMNS = (
    "v.id, v.state, v.source, v.publication_date, v.digest, v.product_count, v.price_count, v.files,"
    " v.counts, v.base_version_id, v.carried_over, v.error, v.created_at, v.ready_at,"
    " (c.version_id IS NOT NULL) AS is_current"
)


def _version(row: asyncpg.Record, state: str | None = None) -> VersionInfo:
    return VersionInfo(
        id=row["id"],
        state=state or row["state"],
        source=row["source"],
        publication_date=row["publication_date"],
        digest=row["digest"],
        product_count=row["product_count"],
        price_count=row["price_count"],
        files=list(row["files"] or []),
        counts=dict(row["counts"] or {}),
        base_version_id=row["base_version_id"],
        carried_over=list(row["carried_over"] or []),
        error=row["error"],
        created_at=row["created_at"],
        ready_at=row["ready_at"],
        is_current=row["is_current"],
    )


async def current_version(connection: asyncpg.Connection) -> VersionInfo | None:
    row = await connection.fetchrow(
        f"SELECT {_VERSION_COLUMNS} FROM ccg_pricing_current c"
        " JOIN ccg_pricing_version v ON v.id = c.version_id WHERE c.singleton"
    )
    return None if row is None else _version(row)


async def current_version_id(connection: asyncpg.Connection) -> tuple[int, str | None] | None:
    """(id, digest) of the current version: the cheap check the provider runs on every refresh."""
    row = await connection.fetchrow(
        "SELECT v.id, v.digest FROM ccg_pricing_current c JOIN ccg_pricing_version v ON v.id = c.version_id"
    )
    return None if row is None else (row["id"], row["digest"])


async def list_versions(connection: asyncpg.Connection) -> list[VersionInfo]:
    rows = await connection.fetch(
        f"SELECT {_VERSION_COLUMNS} FROM ccg_pricing_version v"
        " LEFT JOIN ccg_pricing_current c ON c.version_id = v.id ORDER BY v.id DESC"
    )
    versions = []
    for row in rows:
        state = None
        if row["state"] == "loading" and not await load_is_alive(connection, row["id"]):
            state = "abandoned"
        versions.append(_version(row, state))
    return versions


async def load_is_alive(connection: asyncpg.Connection, version_id: int) -> bool:
    """A loading version whose loader still holds its advisory lock (the lock dies with the session)."""
    acquired = await connection.fetchval(
        "SELECT pg_try_advisory_lock($1, $2)", LOAD_LOCK_NAMESPACE, lock_key(version_id)
    )
    if acquired:
        await connection.execute(
            "SELECT pg_advisory_unlock($1, $2)", LOAD_LOCK_NAMESPACE, lock_key(version_id)
        )
    return not acquired


async def drop_version_tables(connection: asyncpg.Connection, version_id: int) -> None:
    await connection.execute(f"DROP TABLE IF EXISTS {product_table(version_id)}, {price_table(version_id)}")


async def prune(connection: asyncpg.Connection, *, keep: int, dry_run: bool = False) -> list[VersionInfo]:
    """Remove failed and abandoned loads, and ready versions beyond the ``keep`` newest (never current)."""
    await check_schema(connection)
    versions = await list_versions(connection)
    ready = [v for v in versions if v.state == "ready" and not v.is_current]
    current = [v for v in versions if v.is_current]
    kept_ready = max(0, keep - len(current))
    doomed = [v for v in versions if v.state in ("failed", "abandoned")] + ready[kept_ready:]
    doomed.sort(key=lambda v: v.id)
    if dry_run:
        return doomed
    removed = []
    for version in doomed:
        async with connection.transaction():
            await connection.execute(f"SET LOCAL lock_timeout = {PRUNE_LOCK_TIMEOUT_MS}")
            # The switch lock: a load switching now may be copying rows out of the current version.
            await connection.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, SWITCH_LOCK_KEY)
            still_current = await connection.fetchval(
                "SELECT count(*) FROM ccg_pricing_current WHERE version_id = $1", version.id
            )
            if still_current:
                continue
            if version.state == "abandoned" and await load_is_alive(connection, version.id):
                continue
            await drop_version_tables(connection, version.id)
            await connection.execute("DELETE FROM ccg_pricing_version WHERE id = $1", version.id)
        removed.append(version)
    return removed


# --- catalog rows ---------------------------------------------------------------------------------

# Products and prices are read apart and joined here by SKU: no join for the server to plan, and each
# product's attributes cross the wire once however many tiers it has. Numbers travel as text:
# asyncpg's binary numeric decoding can give Decimal('1.50E+10') for 15000000000, equal in value but
# not in how an export writes it.
_PRODUCTS_QUERY = """
SELECT p.sku, p.service, p.region, p.attributes::text, p.origin, p.confidence
  FROM ccg_product p
 WHERE p.version_id = $1
   AND ($2::text[] IS NULL OR p.service = ANY($2::text[]))
   AND ($3::text[] IS NULL OR p.region = ANY($3::text[]) OR p.region = 'global')
"""
_PRICES_QUERY = """
SELECT pr.sku, pr.unit, pr.usd_per_unit::text, pr.tier_start::text, pr.tier_end::text
  FROM ccg_price pr
 WHERE pr.version_id = $1
"""
_FILTERED_PRICES_QUERY = """
SELECT pr.sku, pr.unit, pr.usd_per_unit::text, pr.tier_start::text, pr.tier_end::text
  FROM ccg_price pr
 WHERE pr.version_id = $1
   AND pr.sku IN (SELECT p.sku FROM ccg_product p
                   WHERE p.version_id = $1
                     AND ($2::text[] IS NULL OR p.service = ANY($2::text[]))
                     AND ($3::text[] IS NULL OR p.region = ANY($3::text[]) OR p.region = 'global'))
"""
CatalogProduct = tuple[str, str, Mapping[str, str], Price]
PRODUCT_BATCH_ROWS = 10_000  # product rows per cursor fetch: few round trips, a bounded high-water mark


async def fetch_products(
    connection: asyncpg.Connection,
    version_id: int,
    *,
    services: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
) -> list[CatalogProduct]:
    """The version's products with their prices, (service, region, attributes, Price) each."""
    # Repeatable read: both queries see the same version even if a prune runs meanwhile.
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        return await _read_products(connection, version_id, services=services, regions=regions)


async def fetch_detached_products(connection: asyncpg.Connection, version_id: int) -> list[CatalogProduct]:
    """A loading version's products with their prices, read from its own tables (before the switch
    attaches them to the parents, where readers would see them), in the caller's transaction if any."""
    async with connection.transaction():  # a cursor needs one (a savepoint inside the caller's)
        return await _read_products(
            connection,
            version_id,
            products_table=product_table(version_id),
            prices_table=price_table(version_id),
        )


async def _read_products(
    connection: asyncpg.Connection,
    version_id: int,
    *,
    services: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    products_table: str = "ccg_product",
    prices_table: str = "ccg_price",
) -> list[CatalogProduct]:
    service_list = list(services) if services else None
    region_list = list(regions) if regions else None
    unfiltered = service_list is None and region_list is None
    tables = {"ccg_product p": f"{products_table} p", "ccg_price pr": f"{prices_table} pr"}

    def on_tables(query: str) -> str:
        for parent, table in tables.items():
            query = query.replace(parent, table)
        return query

    # Prices are fetched whole; products (most of the bytes: their attributes) in batches through a
    # cursor, each turned into catalog products before the next arrives, so that the rows of all of
    # them are never in memory at once (the operator's resident memory keeps the high-water mark of a
    # load).
    products: list[CatalogProduct] = []
    if unfiltered:
        price_rows = await connection.fetch(on_tables(_PRICES_QUERY), version_id)
    else:
        price_rows = await connection.fetch(
            on_tables(_FILTERED_PRICES_QUERY), version_id, service_list, region_list
        )
    tiers = _tiers_by_sku(price_rows)
    del price_rows
    cursor = await connection.cursor(on_tables(_PRODUCTS_QUERY), version_id, service_list, region_list)
    while rows := await cursor.fetch(PRODUCT_BATCH_ROWS):
        with paused_gc():  # a catalog is hundreds of thousands of cycle-free objects, all new
            products.extend(_products_with_prices(rows, tiers, version_id))
        del rows
    return products


def _tiers_by_sku(price_rows: list[asyncpg.Record]) -> dict[str, list[tuple[str, PriceTier]]]:
    intern = sys.intern
    tiers: dict[str, list[tuple[str, PriceTier]]] = {}
    with paused_gc():
        # Tiers repeat (a price from 0 to Inf is most of them, many prices recur): one immutable
        # PriceTier per distinct (start, end, price), as interned strings share one copy.
        shared: dict[tuple[str, str | None, str], PriceTier] = {}
        for sku, unit, usd, start, end in price_rows:
            key = (start, end, usd)
            tier = shared.get(key)
            if tier is None:
                tier = shared[key] = PriceTier(
                    Decimal(start), None if end is None else Decimal(end), Decimal(usd)
                )
            tiers.setdefault(sku, []).append((intern(unit), tier))
    return tiers


def _products_with_prices(
    rows: list[asyncpg.Record], tiers: dict[str, list[tuple[str, PriceTier]]], version_id: int
) -> list[CatalogProduct]:
    intern = sys.intern
    loads = orjson.loads
    origins: dict[str, str] = {}
    products: list[CatalogProduct] = []
    shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
    for sku, service_name, region_name, attributes_text, stored_origin, stored_confidence in rows:
        product_tiers = tiers.get(sku)
        if not product_tiers:
            continue
        service = intern(service_name)
        origin = (
            stored_origin
            or origins.get(service)
            or origins.setdefault(service, f"AWS Price List {service} (pricing version {version_id})")
        )
        parsed = loads(attributes_text)
        # Values repeat across thousands of products ("Linux", "Shared", "Hrs"): keep one copy each.
        # Names and values, not a dict per product: the catalog keeps them so, and a hundred thousand
        # dicts alive until it is built would leave their memory resident after it (~40 MB).
        names = tuple(parsed)
        attributes = ShapedAttributes(
            shapes.get(names) or shapes.setdefault(names, names), tuple(map(intern, parsed.values()))
        )
        region, confidence = intern(region_name), intern(stored_confidence)
        if len(product_tiers) == 1:  # most products: one tier
            unit, tier = product_tiers[0]
            products.append((service, region, attributes, Price(unit, (tier,), origin, confidence)))
            continue
        by_unit: dict[str, list[PriceTier]] = {}
        for unit, tier in product_tiers:
            by_unit.setdefault(unit, []).append(tier)
        for unit, unit_tiers in by_unit.items():
            unit_tiers.sort(key=_tier_start)
            price = Price(unit, tuple(unit_tiers), origin=origin, confidence=confidence)
            products.append((service, region, attributes, price))
    return products


def _tier_start(tier: PriceTier) -> Decimal:
    return tier.start


async def fetch_records(
    connection: asyncpg.Connection,
    version_id: int,
    *,
    services: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
) -> list[PriceRecord]:
    """The version's price records (one per tier: the snapshot file's shape)."""
    return products_to_records(
        await fetch_products(connection, version_id, services=services, regions=regions)
    )


def products_to_records(products: Iterable[CatalogProduct]) -> list[PriceRecord]:
    return [
        PriceRecord(
            service=service,
            region=region,
            attributes=attributes,
            unit=price.unit,
            unit_price=tier.unit_price,
            tier_start=tier.start,
            tier_end=tier.end,
            origin=price.origin,
            confidence=price.confidence,
        )
        for service, region, attributes, price in products
        for tier in price.tiers
    ]


def catalog_from_snapshot_file(path: Path, *, source: str) -> InMemoryCatalog:
    """A snapshot file (the provider's last-good cache) as a catalog, built like one from the store.

    ``snapshot.read_snapshot_file`` builds through the ``InMemoryCatalog`` constructor, whose sort
    takes several seconds on a hundred thousand products; here records are grouped into products
    (by SKU when they carry one) and built with ``from_products``: the same catalog, faster.
    """
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as err:
        raise errors.PricingError(f"cannot read price snapshot {path}: {err.strerror or err}") from err
    except orjson.JSONDecodeError as err:
        raise errors.PricingError(f"price snapshot {path} is not valid JSON: {err}") from err
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise errors.PricingError(f"price snapshot {path} is not in the {SNAPSHOT_FORMAT} format")
    items = document.get("records")
    if not isinstance(items, list):
        raise errors.PricingError(f"price snapshot {path} has no records list")
    intern = sys.intern
    grouped: dict[tuple[Any, ...], tuple[CatalogProduct, list[PriceTier]]] = {}
    with paused_gc():
        try:
            for item in items:
                attributes = dict(
                    zip(item["attributes"], map(intern, item["attributes"].values()), strict=True)
                )
                unit = intern(item["unit"])
                service, region = intern(item["service"]), intern(item["region"])
                identity = attributes.get("sku") or tuple(sorted(attributes.items()))
                key = (service, region, unit, identity)
                tier_end = item.get("tierEnd")
                tier = PriceTier(
                    Decimal(item.get("tierStart") or "0"),
                    None if tier_end is None else Decimal(tier_end),
                    Decimal(item["usdPerUnit"]),
                )
                entry = grouped.get(key)
                if entry is None:
                    origin, confidence = (
                        str(item.get("origin", "")),
                        intern(str(item.get("confidence", "official"))),
                    )
                    placeholder = Price(unit, (), origin=origin, confidence=confidence)
                    grouped[key] = ((service, region, attributes, placeholder), [tier])
                else:
                    entry[1].append(tier)
        except (KeyError, TypeError, AttributeError, ArithmeticError) as err:
            raise errors.PricingError(f"price snapshot {path} has a malformed record: {err!r}") from err
        products: list[CatalogProduct] = []
        for (service, region, kept, placeholder), tiers in grouped.values():
            tiers.sort(key=_tier_start)
            price = Price(
                placeholder.unit, tuple(tiers), origin=placeholder.origin, confidence=placeholder.confidence
            )
            products.append((service, region, kept, price))
        return InMemoryCatalog.from_products(products, source=source, version=str(document.get("version")))


def catalog_from_products(products: list[CatalogProduct], *, version: str) -> InMemoryCatalog:
    with paused_gc():
        return InMemoryCatalog.from_products(products, source=CATALOG_SOURCE, version=version, consume=True)


async def load_catalog(
    connection: asyncpg.Connection,
    *,
    services: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    version: VersionInfo | None = None,
) -> InMemoryCatalog | None:
    """The current (or given) version as an in-memory catalog; None when no version is current."""
    await check_schema(connection)
    info = version or await current_version(connection)
    if info is None:
        return None
    products = await fetch_products(connection, info.id, services=services, regions=regions)
    return catalog_from_products(products, version=info.catalog_version)


async def find_products(
    connection: asyncpg.Connection,
    version_id: int,
    service: str,
    region: str,
    attributes: dict[str, str],
    *,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Products whose attributes contain ``attributes`` (served by the GIN index), with their prices."""
    rows = await connection.fetch(
        """
        SELECT p.sku, p.product_family, p.attributes,
               coalesce(json_agg(json_build_object(
                   'unit', pr.unit, 'usdPerUnit', pr.usd_per_unit::text,
                   'tierStart', pr.tier_start::text, 'tierEnd', pr.tier_end::text)
                 ORDER BY pr.tier_start) FILTER (WHERE pr.sku IS NOT NULL), '[]')::text AS prices
          FROM ccg_product p
          LEFT JOIN ccg_price pr ON pr.version_id = p.version_id AND pr.sku = p.sku
         WHERE p.version_id = $1 AND p.service = $2 AND p.region = $3 AND p.attributes @> $4::jsonb
         GROUP BY p.sku, p.product_family, p.attributes
         ORDER BY p.sku
         LIMIT $5
        """,
        version_id,
        service,
        region,
        attributes,
        limit,
    )
    return [
        {"sku": row["sku"], "attributes": row["attributes"], "prices": orjson.loads(row["prices"])}
        for row in rows
    ]


def decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def pairs(items: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Two parallel arrays for ``unnest($1::text[], $2::text[])``."""
    ordered = sorted(set(items))
    return [service for service, _ in ordered], [region for _, region in ordered]
