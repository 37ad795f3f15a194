"""Loading offer files into a new pricing version and making it current.

One load = one version, whatever the number of files:

1. Insert the version row (state ``loading``) and hold an advisory lock named after it for the whole
   load: ``status``/``prune`` tell a live load from one whose process died.
2. Create the version's two tables, detached from the partitioned parents (invisible to readers).
3. Stream every file's rows into them with two COPYs running side by side (products on one
   connection, prices on another) while the reader parses the next batch.
4. Verify: rows COPYed equal rows read; drop products with no on-demand price; no price without a
   product; at least one price in all.
5. Prepare, still detached: copy forward from the current version the (service, region) pairs this
   load does not cover (loading EC2 us-east-1 keeps the S3 prices), then build the indexes and
   planner statistics, products and prices side by side on the two connections.
6. Switch, in one transaction under the switch lock: if another load became current meanwhile,
   redo the carry-over from it; attach both tables (their indexes match the parents', so attaching
   builds nothing), mark the version ready, make it current, ``NOTIFY``. Concurrent loads serialize
   here, each keeping what the previous one made current.

Any failure before the commit (bad file, duplicate SKU, lost connection, Ctrl-C) rolls the switch
back and drops the version's tables: what is current never changes. A load killed outright leaves a
``loading`` row whose lock is gone ("abandoned"); ``prune`` removes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from cloudcostguard import errors
from cloudcostguard.performance import paused_gc
from cloudcostguard.pricing.catalog import PriceRecord
from cloudcostguard.pricing.offers.model import Batch, PriceRow, ReadStats, Selection
from cloudcostguard.pricing.offers.reading import FileSummary, LoadProgress, read_offer_files
from cloudcostguard.pricing.store import catalog_blob, pool
from cloudcostguard.pricing.store.migrate import (
    LOAD_LOCK_NAMESPACE,
    LOCK_NAMESPACE,
    SWITCH_LOCK_KEY,
    check_schema,
)
from cloudcostguard.pricing.store.store import (
    CHANNEL,
    catalog_version,
    lock_key,
    pairs,
    price_table,
    product_table,
)
from cloudcostguard.settings import Settings

log = logging.getLogger("cloudcostguard.pricing.store")

PRODUCT_COLUMNS = ("sku", "service", "region", "product_family", "attributes")
SNAPSHOT_PRODUCT_COLUMNS = (*PRODUCT_COLUMNS, "origin", "confidence")
PRICE_COLUMNS = ("sku", "rate_code", "unit", "usd_per_unit", "tier_start", "tier_end")
QUEUE_BATCHES = 4  # batches parsed ahead of the COPYs: bounds memory while keeping both sides busy
SWITCH_WORK_MEM = "256MB"  # the index builds (GIN on attributes above all) run much faster with room


@dataclass(slots=True)
class LoadResult:
    version_id: int
    digest: str
    product_count: int
    price_count: int
    files: list[FileSummary]
    carried_over: list[tuple[str, str]]
    base_version_id: int | None
    seconds: float
    products_read: int = 0

    @property
    def skus_per_second(self) -> float:
        return self.products_read / self.seconds if self.seconds > 0 else 0.0


async def load_offer_files(
    dsn: str,
    settings: Settings,
    paths: Sequence[tuple[Path, str]],
    *,
    selection: Selection | None = None,
    fresh: bool = False,
) -> LoadResult:
    """Load offer files (``(path, label)`` pairs) into a new version and make it current."""
    if not paths:
        raise errors.OfferFileError("no offer files to load")
    chosen = selection or Selection.from_lists(settings.pricing_services, settings.pricing_regions)
    for path, label in paths:
        # Missing files fail before any version is created (stat only: a pipe must not be read twice).
        if not path.exists():
            raise errors.OfferFileError(f"offer file not found: {label}", reason="NotFound")
        if path.is_dir():
            raise errors.OfferFileError(f"offer file path is a directory: {label}", reason="NotFound")
    progress = LoadProgress()
    source = ", ".join(label for _, label in paths)
    return await _load(
        dsn,
        settings,
        source=source,
        batches=read_offer_files(paths, chosen, progress),
        progress=progress,
        product_columns=PRODUCT_COLUMNS,
        fresh=fresh,
    )


async def import_snapshot_records(
    dsn: str,
    settings: Settings,
    records: Iterable[PriceRecord],
    *,
    source: str,
    digest: str,
    fresh: bool = True,
) -> LoadResult:
    """Load price snapshot records (the bundled snapshot, an export) as a version: same path as files."""
    progress = LoadProgress()
    batches = _snapshot_batches(records, progress, source=source, digest=digest)
    return await _load(
        dsn,
        settings,
        source=source,
        batches=batches,
        progress=progress,
        product_columns=SNAPSHOT_PRODUCT_COLUMNS,
        fresh=fresh,
    )


def _snapshot_batches(
    records: Iterable[PriceRecord], progress: LoadProgress, *, source: str, digest: str
) -> Iterator[Batch]:
    products: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    prices: list[PriceRow] = []
    stats = ReadStats()
    for record in records:
        key = (record.service, record.region, record.unit, tuple(sorted(record.attributes.items())))
        product = products.get(key)
        if product is None:
            # Snapshot records have no SKU: name the product after its identity, stably.
            sku = "SNAP-" + hashlib.sha256(orjson.dumps(key, default=str)).hexdigest()[:20]
            product = (
                sku,
                record.service,
                record.region,
                record.attributes.get("productFamily"),
                dict(record.attributes),
                record.origin,
                record.confidence,
            )
            products[key] = product
        sku = product[0]
        prices.append(
            PriceRow(
                sku,
                f"{sku}.{record.tier_start}",
                record.unit,
                record.unit_price,
                record.tier_start,
                record.tier_end,
            )
        )
        progress.covered.add((record.service, record.region))
    stats.products_seen = stats.products_kept = len(products)
    stats.prices_seen = stats.prices_kept = len(prices)
    progress.products_read = len(products)
    yield Batch("products", list(products.values()))
    yield Batch("prices", prices)
    progress.files.append(
        FileSummary(
            source=source,
            file_format="snapshot",
            offer_code=None,
            offer_version=None,
            publication_date=None,
            digest=digest,
            bytes_read=0,
            stats=stats,
        )
    )


async def _load(
    dsn: str,
    settings: Settings,
    *,
    source: str,
    batches: Iterator[Batch],
    progress: LoadProgress,
    product_columns: Sequence[str],
    fresh: bool,
) -> LoadResult:
    started = time.monotonic()
    timeout = settings.pricing_load_timeout
    main = await pool.connect(dsn, settings, statement_timeout=timeout)
    second: asyncpg.Connection | None = None
    version_id: int | None = None
    try:
        with pool.database_errors(dsn, "load prices into PostgreSQL"):
            await check_schema(main)
            version_id = await _create_version(main, source[:2000])
            log.info("pricing load started", extra={"version": version_id, "source": source[:200]})
            second = await pool.connect(dsn, settings, statement_timeout=timeout)
            with paused_gc():  # hundreds of thousands of short-lived, cycle-free parsed items
                copied_products, copied_prices = await _copy(
                    products_connection=main,
                    prices_connection=second,
                    version_id=version_id,
                    batches=batches,
                    progress=progress,
                    product_columns=product_columns,
                    statement_seconds=timeout,
                )
            if copied_products != progress.products_sent or copied_prices != progress.prices_sent:
                raise errors.PricingError(
                    f"COPY stored {copied_products} products and {copied_prices} prices, "
                    f"the files gave {progress.products_sent} and {progress.prices_sent}"
                )
            await _tidy(main, version_id, progress)
            covered = pairs(progress.covered)
            base = None if fresh else await _current(main)
            await _prepare(main, second, version_id, base, covered)
            await pool.close_quietly(second)
            second = None
            # The version's compiled catalog, built before the switch (it takes seconds on a large
            # version; the switch holds its lock for milliseconds), stored by the switch.
            carried = await _carried(main, base, covered)
            blob = await catalog_blob.build_detached(
                main, version_id, catalog_version(version_id, _digest(progress, base, carried))
            )
            result = await _switch(
                main, version_id, progress, base, covered, blob=blob, fresh=fresh, started=started
            )
            return result
    except BaseException as err:
        if version_id is not None:
            # Both connections go first: a COPY still open on either holds a lock on the tables
            # that the clean-up drops.
            await pool.close_quietly(second, grace=2.0)
            second = None
            await _discard(dsn, settings, main, version_id, err)
        raise
    finally:
        await pool.close_quietly(second)
        await pool.close_quietly(main)


async def _create_version(connection: asyncpg.Connection, source: str) -> int:
    # The row and the session's lock on it appear together: a prune never sees a live load unlocked.
    async with connection.transaction():
        version_id: int = await connection.fetchval(
            "INSERT INTO ccg_pricing_version (source) VALUES ($1) RETURNING id", source
        )
        await connection.execute("SELECT pg_advisory_lock($1, $2)", LOAD_LOCK_NAMESPACE, lock_key(version_id))
    for parent, table in (("ccg_product", product_table(version_id)), ("ccg_price", price_table(version_id))):
        # Same columns as the parent; the CHECK lets ATTACH skip scanning the rows; the DEFAULT lets
        # COPY leave version_id out of every row.
        await connection.execute(
            f"CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS,"
            f" CONSTRAINT {table}_version CHECK (version_id = {version_id}))"
        )
        await connection.execute(f"ALTER TABLE {table} ALTER COLUMN version_id SET DEFAULT {version_id}")
    return version_id


_DONE = object()


async def _copy(
    *,
    products_connection: asyncpg.Connection,
    prices_connection: asyncpg.Connection,
    version_id: int,
    batches: Iterator[Batch],
    progress: LoadProgress,
    product_columns: Sequence[str],
    statement_seconds: float,
) -> tuple[int, int]:
    """Feed both COPYs from the batch stream; returns the row counts PostgreSQL reports."""
    queues: dict[str, asyncio.Queue[Any]] = {
        "products": asyncio.Queue(QUEUE_BATCHES),
        "prices": asyncio.Queue(QUEUE_BATCHES),
    }

    async def rows(kind: str) -> AsyncIterator[Any]:
        queue = queues[kind]
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            for row in item:
                yield row

    tasks = {
        "products": asyncio.create_task(
            products_connection.copy_records_to_table(
                product_table(version_id),
                records=rows("products"),
                columns=list(product_columns),
                timeout=statement_seconds,
            )
        ),
        "prices": asyncio.create_task(
            prices_connection.copy_records_to_table(
                price_table(version_id),
                records=rows("prices"),
                columns=list(PRICE_COLUMNS),
                timeout=statement_seconds,
            )
        ),
    }
    try:
        for batch in batches:
            if batch.kind == "products":
                progress.products_sent += len(batch.rows)
            else:
                progress.prices_sent += len(batch.rows)
            await _put(queues[batch.kind], batch.rows, tasks[batch.kind])
            await asyncio.sleep(0)  # let the COPYs send what is queued while the next batch is parsed
        for kind, queue in queues.items():
            await _put(queue, _DONE, tasks[kind])
        statuses = await asyncio.gather(*tasks.values())
    except BaseException:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        raise
    return _copied(statuses[0]), _copied(statuses[1])


async def _put(queue: asyncio.Queue[Any], item: Any, copy_task: asyncio.Task[Any]) -> None:
    """Queue ``item`` for a COPY; if that COPY has failed meanwhile, raise its error instead."""
    if copy_task.done():
        copy_task.result()
        raise errors.PricingError("a COPY ended before all its rows were sent")
    try:
        queue.put_nowait(item)
        return
    except asyncio.QueueFull:
        pass
    put = asyncio.ensure_future(queue.put(item))
    await asyncio.wait({put, copy_task}, return_when=asyncio.FIRST_COMPLETED)
    if not put.done():
        put.cancel()
        copy_task.result()
        raise errors.PricingError("a COPY ended before all its rows were sent")


def _copied(status: str) -> int:
    try:
        return int(status.rsplit(maxsplit=1)[-1])
    except (ValueError, IndexError) as err:
        raise errors.PricingError(f"unexpected COPY status {status!r}") from err


async def _tidy(connection: asyncpg.Connection, version_id: int, progress: LoadProgress) -> None:
    products, prices = product_table(version_id), price_table(version_id)
    if progress.prices_before_products:
        # Prices were read before their products, so they could not be filtered as they came.
        await connection.execute(
            f"DELETE FROM {prices} pr WHERE NOT EXISTS (SELECT 1 FROM {products} p WHERE p.sku = pr.sku)"
        )
    # Products with no on-demand price in USD (Reserved-only, other currencies) price nothing.
    await connection.execute(
        f"DELETE FROM {products} p WHERE NOT EXISTS (SELECT 1 FROM {prices} pr WHERE pr.sku = p.sku)"
    )
    orphans = await connection.fetchval(
        f"SELECT count(*) FROM {prices} pr WHERE NOT EXISTS (SELECT 1 FROM {products} p WHERE p.sku = pr.sku)"
    )
    if orphans:
        raise errors.PricingError(f"{orphans} prices have no product: refusing to switch to this version")
    price_count = await connection.fetchval(f"SELECT count(*) FROM {prices}")
    if not price_count:
        raise errors.OfferFileError(
            "the files hold no on-demand USD prices for the selected services and regions: nothing loaded",
            reason="OfferFileEmpty",
        )


def _not_covered(services: int, regions: int) -> str:
    """SQL: product ``p``'s (service, region) is not among the pairs in parameters $services/$regions."""
    return (
        f"NOT EXISTS (SELECT 1 FROM unnest(${services}::text[], ${regions}::text[]) AS c(service, region)"
        " WHERE c.service = p.service AND c.region = p.region)"
    )


_NOT_COVERED = _not_covered(2, 3)


async def _current(connection: asyncpg.Connection) -> tuple[int, str | None] | None:
    row = await connection.fetchrow(
        "SELECT c.version_id, v.digest FROM ccg_pricing_current c"
        " JOIN ccg_pricing_version v ON v.id = c.version_id WHERE c.singleton"
    )
    return None if row is None else (row["version_id"], row["digest"])


async def _carry_over(
    products_connection: asyncpg.Connection,
    prices_connection: asyncpg.Connection,
    version_id: int,
    base_id: int,
    covered: tuple[list[str], list[str]],
) -> None:
    """Copy the base version's (service, region) pairs this load does not cover into the new tables."""
    products, prices = product_table(version_id), price_table(version_id)
    copy_products = (
        f"INSERT INTO {products} ({', '.join(SNAPSHOT_PRODUCT_COLUMNS)})"
        f" SELECT {', '.join(SNAPSHOT_PRODUCT_COLUMNS)} FROM ccg_product p"
        f" WHERE p.version_id = $1 AND {_NOT_COVERED}"
    )
    copy_prices = (
        f"INSERT INTO {prices} ({', '.join(PRICE_COLUMNS)})"
        f" SELECT {', '.join('pr.' + c for c in PRICE_COLUMNS)} FROM ccg_price pr"
        " JOIN ccg_product p ON p.version_id = pr.version_id AND p.sku = pr.sku"
        f" WHERE pr.version_id = $1 AND {_NOT_COVERED}"
    )
    if products_connection is prices_connection:  # inside the switch transaction
        await products_connection.execute(copy_products, base_id, *covered)
        await products_connection.execute(copy_prices, base_id, *covered)
        return
    await asyncio.gather(
        products_connection.execute(copy_products, base_id, *covered),
        prices_connection.execute(copy_prices, base_id, *covered),
    )


async def _prepare(
    products_connection: asyncpg.Connection,
    prices_connection: asyncpg.Connection,
    version_id: int,
    base: tuple[int, str | None] | None,
    covered: tuple[list[str], list[str]],
) -> None:
    """Carry over, index and analyze the new tables before the switch, products and prices side by
    side: the switch then only attaches (the indexes match the parents'), holding its lock for
    milliseconds instead of the seconds index builds take."""
    if base is not None:
        await _carry_over(products_connection, prices_connection, version_id, base[0], covered)
    products, prices = product_table(version_id), price_table(version_id)
    # Constraint-backed primary keys: ATTACH only adopts a constraint index for the parents' keys.
    product_statements = [
        f"SET maintenance_work_mem = '{SWITCH_WORK_MEM}'",
        f"ALTER TABLE {products} ADD CONSTRAINT {products}_pkey PRIMARY KEY (version_id, sku)",
        f"CREATE INDEX {products}_lookup ON {products} (version_id, service, region, product_family)",
        f"CREATE INDEX {products}_attributes ON {products} USING gin (attributes jsonb_path_ops)",
        f"ANALYZE {products}",
    ]
    price_statements = [
        f"SET maintenance_work_mem = '{SWITCH_WORK_MEM}'",
        f"ALTER TABLE {prices} ADD CONSTRAINT {prices}_pkey PRIMARY KEY (version_id, rate_code)",
        f"CREATE INDEX {prices}_sku ON {prices} (version_id, sku)",
        f"ANALYZE {prices}",
    ]

    async def run(connection: asyncpg.Connection, statements: list[str]) -> None:
        for statement in statements:
            await connection.execute(statement)

    try:
        await asyncio.gather(
            run(products_connection, product_statements), run(prices_connection, price_statements)
        )
    except asyncpg.UniqueViolationError as err:
        raise errors.OfferFileError(
            f"the same product or rate code appears twice in the loaded files ({err.detail or err})",
            reason="OfferFileDuplicate",
        ) from err


async def _carried(
    connection: asyncpg.Connection,
    base: tuple[int, str | None] | None,
    covered: tuple[list[str], list[str]],
) -> list[tuple[str, str]]:
    """The base version's (service, region) pairs this load does not cover (carried over)."""
    if base is None:
        return []
    rows = await connection.fetch(
        f"SELECT DISTINCT service, region FROM ccg_product p WHERE p.version_id = $1 AND {_NOT_COVERED}",
        base[0],
        *covered,
    )
    return sorted((row["service"], row["region"]) for row in rows)


def _digest(
    progress: LoadProgress, base: tuple[int, str | None] | None, carried: list[tuple[str, str]]
) -> str:
    """The version's digest: its files', and its base's when it carries prices over from it."""
    file_digests = sorted(f.digest for f in progress.files)
    if base is not None and carried:
        file_digests.append("base:" + (base[1] or str(base[0])))
    return hashlib.sha256("\n".join(file_digests).encode()).hexdigest()


async def _switch(
    connection: asyncpg.Connection,
    version_id: int,
    progress: LoadProgress,
    base: tuple[int, str | None] | None,
    covered: tuple[list[str], list[str]],
    *,
    blob: catalog_blob.Blob,
    fresh: bool,
    started: float,
) -> LoadResult:
    """Make the version current in one transaction: nothing of it is visible unless all of it is."""
    products, prices = product_table(version_id), price_table(version_id)
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, SWITCH_LOCK_KEY)
        row = await connection.fetchrow(
            "SELECT c.version_id, v.digest FROM ccg_pricing_current c"
            " JOIN ccg_pricing_version v ON v.id = c.version_id WHERE c.singleton FOR UPDATE OF c"
        )
        current = None if row is None else (row["version_id"], row["digest"])
        carried_again = not fresh and current != base
        if carried_again:
            # Another load became current after this one carried over: carry over from it instead.
            await connection.execute(
                f"DELETE FROM {products} p WHERE {_not_covered(1, 2)}",
                *covered,
            )
            await connection.execute(
                f"DELETE FROM {prices} pr WHERE NOT EXISTS (SELECT 1 FROM {products} p WHERE p.sku = pr.sku)"
            )
            if current is not None:
                await _carry_over(connection, connection, version_id, current[0], covered)
            base = current
        base_id = None if base is None else base[0]
        carried = await _carried(connection, base, covered)
        digest = _digest(progress, base, carried)
        version = catalog_version(version_id, digest)
        if carried_again or blob.version != version:
            # Another load became current meanwhile (carried over again above): compile again,
            # from the tables as they now are, still detached. Rare; holds the switch lock longer.
            blob = await catalog_blob.build_detached(connection, version_id, version)
        await connection.execute(
            f"ALTER TABLE ccg_product ATTACH PARTITION {products} FOR VALUES IN ({version_id})"
        )
        await connection.execute(
            f"ALTER TABLE ccg_price ATTACH PARTITION {prices} FOR VALUES IN ({version_id})"
        )
        counts_rows = await connection.fetch(
            f"SELECT p.service, count(*) AS products, sum(pr.prices) AS prices FROM {products} p"
            f" JOIN (SELECT sku, count(*) AS prices FROM {prices} GROUP BY sku) pr ON pr.sku = p.sku"
            " GROUP BY p.service"
        )
        counts = {
            row["service"]: {"products": row["products"], "prices": int(row["prices"])} for row in counts_rows
        }
        product_count = sum(c["products"] for c in counts.values())
        price_count = sum(c["prices"] for c in counts.values())
        publication = max(progress.publication_dates) if progress.publication_dates else None
        await connection.execute(
            """
            UPDATE ccg_pricing_version
               SET state = 'ready', ready_at = now(), digest = $2, product_count = $3, price_count = $4,
                   counts = $5, files = $6, base_version_id = $7, carried_over = $8,
                   publication_date = $9::text::timestamptz
             WHERE id = $1
            """,
            version_id,
            digest,
            product_count,
            price_count,
            counts,
            [f.to_dict() for f in progress.files],
            base_id,
            [list(pair) for pair in carried],
            publication,
        )
        await connection.execute(
            "INSERT INTO ccg_pricing_current (singleton, version_id, switched_at) VALUES (true, $1, now())"
            " ON CONFLICT (singleton) DO UPDATE SET version_id = EXCLUDED.version_id, switched_at = now()",
            version_id,
        )
        # In the transaction that makes the version current: never a current version without its
        # blob, nor a blob of a version that did not become current.
        await catalog_blob.store_blob(connection, version_id, blob)
        # Delivered at commit, to every replica's catalog provider.
        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, str(version_id))
    log.info(
        "pricing version is now current",
        extra={
            "version": version_id,
            "products": product_count,
            "prices": price_count,
            "carried_over": len(carried),
        },
    )
    return LoadResult(
        version_id=version_id,
        digest=digest,
        product_count=product_count,
        price_count=price_count,
        files=progress.files,
        carried_over=carried,
        base_version_id=base_id,
        seconds=time.monotonic() - started,
        products_read=progress.products_read,
    )


_CLEANUP_ERRORS: tuple[type[BaseException], ...] = (
    *pool.CLOSE_ERRORS,
    errors.CloudCostGuardError,
    asyncio.CancelledError,
)


async def _discard(
    dsn: str, settings: Settings, connection: asyncpg.Connection, version_id: int, err: BaseException
) -> None:
    """Drop a failed load's tables and mark it failed; never raises (the original error matters).

    The load's own connection may be mid-COPY or broken: it is closed first (which also ends any
    server-side work holding locks on the version's tables), and a fresh one cleans up.
    """
    message = str(err) if isinstance(err, errors.CloudCostGuardError) else pool.describe_error(err)
    if isinstance(err, (KeyboardInterrupt, asyncio.CancelledError)):
        message = "interrupted"
    await pool.close_quietly(connection, grace=2.0)
    own: asyncpg.Connection | None = None
    try:
        own = await pool.connect(dsn, settings)
        await asyncio.wait_for(_mark_failed(own, version_id, message), timeout=settings.db_command_timeout)
    except _CLEANUP_ERRORS as cleanup_error:
        log.warning(
            "could not clean up a failed pricing load; `cloudcostguard pricing prune` will",
            extra={"version": version_id, "error": pool.describe_error(cleanup_error)},
        )
    finally:
        await pool.close_quietly(own)


async def _mark_failed(connection: asyncpg.Connection, version_id: int, message: str) -> None:
    await connection.execute(f"DROP TABLE IF EXISTS {product_table(version_id)}, {price_table(version_id)}")
    await connection.execute(
        "UPDATE ccg_pricing_version SET state = 'failed', error = $2 WHERE id = $1 AND state = 'loading'",
        version_id,
        message[:2000],
    )
