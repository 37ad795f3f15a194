"""Catalog blobs: each version's compiled catalog, stored by ``pricing load``, read by the provider and
the CLI instead of the rows. The blob's catalog must be the rows' catalog, lookup for lookup; a blob
that is absent, of another format, damaged or of another version is logged and replaced by the rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from cloudcostguard import errors
from cloudcostguard.pricing import cache_file
from cloudcostguard.pricing.catalog import DERIVED_USAGETYPE, InMemoryCatalog, Price
from cloudcostguard.pricing.snapshot import load_bundled_catalog, records_digest
from cloudcostguard.pricing.store import catalog_blob, pool, store
from cloudcostguard.pricing.store import migrate as migrations
from cloudcostguard.pricing.store.bulk_load import import_snapshot_records, load_offer_files
from cloudcostguard.pricing.store.one_shot_catalog import load_catalog
from cloudcostguard.pricing.store.postgres_provider import PostgresCatalogProvider
from cloudcostguard.settings import Settings
from tests.integration.pricing.conftest import make_settings
from tests.unit.pricing.offers.samples import DEEP_ARCHIVE, EC2_2017, EC2_C4, EC2_CSV, RDS_2018, S3_EXCERPT

pytestmark = pytest.mark.postgres

LOGGER = "cloudcostguard.pricing.catalog"

# Each set is loaded in turn (a later one carries over what it does not cover, as in production).
OFFER_SETS = {
    "s3+ec2-json": [[S3_EXCERPT, EC2_2017]],
    "ec2-c4": [[EC2_C4]],
    "rds": [[RDS_2018]],
    "ec2-csv": [[EC2_CSV]],
    "deep-archive-then-s3-then-ec2": [[DEEP_ARCHIVE], [S3_EXCERPT], [EC2_2017]],
}


def _files(paths: list[Path]) -> list[tuple[Path, str]]:
    return [(path, path.name) for path in paths]


async def _connect(url: str, settings: Settings) -> asyncpg.Connection:
    return await pool.connect(url, settings)


async def _rows_catalog(
    url: str, settings: Settings, *, services: list[str] | None = None, regions: list[str] | None = None
) -> InMemoryCatalog:
    """The catalog built from the current version's rows (the path without blobs)."""
    connection = await _connect(url, settings)
    try:
        catalog = await store.load_catalog(connection, services=services, regions=regions)
    finally:
        await connection.close()
    assert catalog is not None
    return catalog


async def _blob_catalog(url: str, settings: Settings, **limits: list[str] | None) -> InMemoryCatalog:
    """The catalog decoded from the current version's blob (which must be there and usable)."""
    connection = await _connect(url, settings)
    try:
        info = await store.current_version(connection)
        assert info is not None
        payload = await catalog_blob.fetch_blob(connection, info.id)
    finally:
        await connection.close()
    assert payload is not None, "the current version has no catalog blob"
    size = len(payload)
    catalog = catalog_blob.decode(payload, info.id, info.catalog_version, **limits)
    assert size > 0 and len(payload) == 0  # the bytes are not kept beside the catalog
    return catalog


def _queries(catalog: InMemoryCatalog) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Lookups every product answers: all its attributes, each one alone, all but each one, and the
    pricers' favourite pairs: many attribute-name sets, so many indexes and many ties between products."""
    for (service, region), products in catalog.shaped_products():
        for names, values, _ in products:
            attributes = dict(zip(names, values, strict=True))
            yield service, region, attributes
            for name in names:
                yield service, region, {name: attributes[name]}
                yield service, region, {k: v for k, v in attributes.items() if k != name}
            for pair in (("usagetype", "productFamily"), (DERIVED_USAGETYPE, "location"), ("instanceType",)):
                if all(name in attributes for name in pair):
                    yield service, region, {name: attributes[name] for name in pair}
            yield service, region, {"productFamily": attributes.get("productFamily", ""), "sku": "no-such"}


def _exact(price: Price | None) -> object:
    """A price as text, so that Decimal('1.0') and Decimal('1') differ."""
    if price is None:
        return None
    tiers = [(str(t.start), None if t.end is None else str(t.end), str(t.unit_price)) for t in price.tiers]
    return (price.unit, tiers, price.origin, price.confidence)


def _shaped(catalog: InMemoryCatalog) -> list[object]:
    return [
        (key, [(names, values, _exact(price)) for names, values, price in products])
        for key, products in catalog.shaped_products()
    ]


def assert_same_catalog(rows: InMemoryCatalog, blob: InMemoryCatalog) -> None:
    assert (blob.source, blob.version) == (rows.source, rows.version) == ("postgresql", rows.version)
    assert (blob.record_count, blob.product_count) == (rows.record_count, rows.product_count)
    # Lookups first, on the rows' catalog as built (unordered: ties decided as indexes meet them),
    # from queries taken from the blob's (already best-first) catalog.
    queries = list(_queries(blob))
    assert queries
    for service, region, attributes in queries:
        expected = _exact(rows.lookup(service, region, **attributes))
        assert _exact(blob.lookup(service, region, **attributes)) == expected, (service, region, attributes)
    # Then everything else, in the catalog's order.
    assert _shaped(blob) == _shaped(rows)
    assert blob.records() == rows.records()
    assert blob.coverage() == rows.coverage()
    assert blob.covered_regions() == rows.covered_regions()


@pytest.mark.parametrize("offer_set", sorted(OFFER_SETS))
async def test_the_blob_catalog_is_the_rows_catalog(
    offer_set: str, store_url: str, settings: Settings
) -> None:
    for paths in OFFER_SETS[offer_set]:
        await load_offer_files(store_url, settings, _files(paths))

    assert_same_catalog(await _rows_catalog(store_url, settings), await _blob_catalog(store_url, settings))


async def test_the_bundled_snapshot_and_offer_files_over_it_compile_alike(
    store_url: str, settings: Settings
) -> None:
    bundled = load_bundled_catalog()
    records = bundled.records()
    await import_snapshot_records(
        store_url, settings, records, source="bundled", digest=records_digest(records)
    )
    assert_same_catalog(await _rows_catalog(store_url, settings), await _blob_catalog(store_url, settings))

    await load_offer_files(store_url, settings, _files([EC2_2017, S3_EXCERPT]))
    assert_same_catalog(await _rows_catalog(store_url, settings), await _blob_catalog(store_url, settings))


@pytest.mark.parametrize(
    ("services", "regions"),
    [(["AmazonS3"], None), (None, ["us-east-2"]), (["AmazonEC2"], ["us-east-1", "eu-west-1"])],
)
async def test_a_limited_catalog_from_the_blob_is_the_limited_rows_catalog(
    services: list[str] | None, regions: list[str] | None, store_url: str, settings: Settings
) -> None:
    await load_offer_files(store_url, settings, _files([S3_EXCERPT, EC2_2017]))
    limits = {"services": services, "regions": regions}

    rows = await _rows_catalog(store_url, settings, **limits)
    blob = await _blob_catalog(store_url, settings, **limits)

    assert rows.product_count > 0
    assert rows.product_count < (await _rows_catalog(store_url, settings)).product_count
    assert_same_catalog(rows, blob)


async def test_two_loads_at_once_each_store_the_blob_of_what_became_current(
    store_url: str, settings: Settings
) -> None:
    first, second = await asyncio.gather(
        load_offer_files(store_url, settings, _files([S3_EXCERPT])),
        load_offer_files(store_url, settings, _files([EC2_2017])),
    )

    # The later switch carried the earlier version's prices over again, inside its transaction: its
    # blob was compiled again from what it then held.
    connection = await _connect(store_url, settings)
    try:
        for loaded in (first, second):
            info = next(v for v in await store.list_versions(connection) if v.id == loaded.version_id)
            payload = await catalog_blob.fetch_blob(connection, info.id)
            assert payload is not None
            blob = catalog_blob.decode(payload, info.id, info.catalog_version)
            rows = await store.load_catalog(connection, version=info)
            assert rows is not None
            assert_same_catalog(rows, blob)
        current = await store.current_version(connection)
        assert current is not None and current.base_version_id is not None
    finally:
        await connection.close()
    assert blob.regions("AmazonS3") or blob.regions("AmazonEC2")


async def test_every_load_stores_its_blob_and_a_failed_one_none(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    loaded = await load_offer_files(store_url, settings, _files([S3_EXCERPT]))
    empty = tmp_path / "empty.json"
    empty.write_bytes(b'{"offerCode": "AmazonEC2", "products": {}, "terms": {"OnDemand": {}}}')
    with pytest.raises(errors.OfferFileError):
        await load_offer_files(store_url, settings, [(empty, "empty.json")])

    connection = await _connect(store_url, settings)
    try:
        rows = await connection.fetch("SELECT version_id, format, sha256, size FROM ccg_catalog_blob")
        assert [(r["version_id"], r["format"]) for r in rows] == [(loaded.version_id, cache_file.FORMAT_TAG)]
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await connection.execute("UPDATE ccg_catalog_blob SET format = 'x'")
    finally:
        await connection.close()


async def test_prune_removes_a_version_with_its_blob(store_url: str, settings: Settings) -> None:
    first = await load_offer_files(store_url, settings, _files([S3_EXCERPT]))
    second = await load_offer_files(store_url, settings, _files([EC2_2017]))

    connection = await _connect(store_url, settings)
    try:
        removed = await store.prune(connection, keep=1)
        assert [v.id for v in removed] == [first.version_id]
        rows = await connection.fetch("SELECT version_id FROM ccg_catalog_blob")
        assert [r["version_id"] for r in rows] == [second.version_id]
    finally:
        await connection.close()


# --- readers falling back to rows -------------------------------------------------------------------


async def _replace_blob(url: str, settings: Settings, **changes: object) -> None:
    """Put the current version's blob back with some of its columns changed (blobs are immutable:
    delete and insert)."""
    connection = await _connect(url, settings)
    try:
        row = await connection.fetchrow(
            "SELECT b.* FROM ccg_catalog_blob b JOIN ccg_pricing_current c ON c.version_id = b.version_id"
        )
        assert row is not None
        values = dict(row) | changes
        await connection.execute("DELETE FROM ccg_catalog_blob WHERE version_id = $1", row["version_id"])
        if values.get("bytes") is not None:
            await connection.execute(
                "INSERT INTO ccg_catalog_blob (version_id, format, sha256, size, bytes)"
                " VALUES ($1, $2, $3, $4, $5)",
                values["version_id"],
                values["format"],
                values["sha256"],
                values["size"],
                values["bytes"],
            )
    finally:
        await connection.close()


def _damaged(payload: bytes) -> bytes:
    middle = len(payload) // 2
    return payload[:middle] + bytes([payload[middle] ^ 0xFF]) + payload[middle + 1 :]


def _undecodable_with_matching_checksums(payload: bytes) -> dict[str, object]:
    header_end = len(cache_file.MAGIC) + 36
    body = b"\x00" * 64  # not a marshal dump
    inner = payload[: len(cache_file.MAGIC)] + payload[len(cache_file.MAGIC) : len(cache_file.MAGIC) + 4]
    rewritten = inner + hashlib.sha256(body).digest() + body
    assert len(rewritten) == header_end + len(body)
    return {"bytes": rewritten, "sha256": hashlib.sha256(rewritten).hexdigest(), "size": len(rewritten)}


async def _current_blob_bytes(url: str, settings: Settings) -> bytes:
    connection = await _connect(url, settings)
    try:
        payload: bytes = await connection.fetchval(
            "SELECT b.bytes FROM ccg_catalog_blob b JOIN ccg_pricing_current c ON c.version_id = b.version_id"
        )
    finally:
        await connection.close()
    return payload


def _fallbacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == LOGGER and "building the price catalog from rows" in r.message
    ]


CORRUPTIONS: dict[str, tuple[dict[str, object], str]] = {
    "absent": ({"bytes": None}, "has no catalog blob"),
    "damaged": ({"bytes": "damage"}, "sha256 does not match"),
    "other-format": ({"format": "CCGCATALOG/0/marshal 1"}, "has format 'CCGCATALOG/0/marshal 1'"),
    "short": ({"size": 1}, "bytes, not 1"),
    "undecodable": ({"bytes": "undecodable"}, "does not decode"),
    "other-version": ({"bytes": "other-version"}, "holds catalog pg-0-"),
}


async def _corrupt(kind: str, url: str, settings: Settings) -> None:
    changes, _ = CORRUPTIONS[kind]
    payload = await _current_blob_bytes(url, settings)
    if changes.get("bytes") == "damage":
        changes = {"bytes": _damaged(payload)}
    elif changes.get("bytes") == "undecodable":
        changes = _undecodable_with_matching_checksums(payload)
    elif changes.get("bytes") == "other-version":
        catalog = await _rows_catalog(url, settings)
        other = InMemoryCatalog.from_shaped_products(
            dict(catalog.shaped_products()), source="postgresql", version="pg-0-other", record_count=0
        )
        rewritten = cache_file.dump_catalog(other)
        changes = {
            "bytes": rewritten,
            "sha256": hashlib.sha256(rewritten).hexdigest(),
            "size": len(rewritten),
        }
    await _replace_blob(url, settings, **changes)


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
async def test_the_cli_builds_from_rows_when_the_blob_cannot_be_used(
    kind: str, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    await load_offer_files(store_url, settings, _files([S3_EXCERPT, EC2_2017]))
    expected = await _rows_catalog(store_url, settings)
    await _corrupt(kind, store_url, settings)
    caplog.set_level(logging.WARNING, logger=LOGGER)

    catalog = await load_catalog(store_url, settings)

    assert_same_catalog(expected, catalog)
    [line] = _fallbacks(caplog)
    assert CORRUPTIONS[kind][1] in line.reason  # type: ignore[attr-defined]


async def test_the_cli_reads_the_blob_and_logs_nothing(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    await load_offer_files(store_url, settings, _files([S3_EXCERPT]))
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    catalog = await load_catalog(store_url, settings)

    assert _fallbacks(caplog) == []
    assert (
        catalog.lookup(
            "AmazonS3", "us-east-1", storageClass="General Purpose", usagetype="TimedStorage-ByteHrs"
        )
        is not None
    )


async def test_the_provider_falls_back_to_rows_then_refreshes_from_the_next_blob(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    await load_offer_files(store_url, settings, _files([S3_EXCERPT]))
    await _corrupt("damaged", store_url, settings)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    provider = PostgresCatalogProvider(store_url, settings, refresh_interval=3600)
    await provider.start()
    try:
        served = provider.current()
        assert provider.status().source == "postgresql" and not provider.status().stale
        assert_same_catalog(await _rows_catalog(store_url, settings), served)  # type: ignore[arg-type]
        assert len(_fallbacks(caplog)) == 1
        price = served.lookup(
            "AmazonS3", "us-east-1", storageClass="General Purpose", usagetype="TimedStorage-ByteHrs"
        )
        assert price is not None and price.tiers[0].unit_price == Decimal("0.023")

        second = await load_offer_files(store_url, settings, _files([EC2_2017]))
        await provider.refresh_now()

        assert provider.version_id == second.version_id
        assert len(_fallbacks(caplog)) == 1  # the new version's blob was read
        assert_same_catalog(await _rows_catalog(store_url, settings), provider.current())  # type: ignore[arg-type]
    finally:
        await provider.stop()


async def test_the_provider_limits_a_blob_catalog_to_the_configured_services(store_url: str) -> None:
    await load_offer_files(store_url, make_settings(), _files([S3_EXCERPT, EC2_2017]))
    settings = make_settings(pricing_services=["AmazonS3"])
    provider = PostgresCatalogProvider(store_url, settings, refresh_interval=3600)
    await provider.start()
    try:
        served = provider.current()
        assert isinstance(served, InMemoryCatalog)
        assert {service for service, _ in dict(served.shaped_products())} == {"AmazonS3"}
        assert_same_catalog(await _rows_catalog(store_url, settings, services=["AmazonS3"]), served)
    finally:
        await provider.stop()


# --- migration 0002 ---------------------------------------------------------------------------------


async def test_migration_0002_upgrades_a_store_whose_versions_have_no_blob(
    store_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # A store as an older build left it: migration 0001 only, a current version (rows, no blob).
    old = await load_offer_files(store_url, settings, _files([S3_EXCERPT]))
    connection = await _connect(store_url, settings)
    try:
        await connection.execute("DROP TABLE ccg_catalog_blob")
        await connection.execute("DELETE FROM ccg_schema_migrations WHERE version >= 2")
        with pytest.raises(errors.PricingError, match="at migration 1, this build needs 2") as caught:
            await migrations.check_schema(connection)
        assert caught.value.reason == "PricingStoreNotMigrated"

        applied = await migrations.migrate(connection)

        assert [(m.version, m.name) for m in applied] == [(2, "catalog_blobs")]
        await migrations.check_schema(connection)
        assert await connection.fetchval("SELECT count(*) FROM ccg_catalog_blob") == 0
        storage = await connection.fetchval(
            "SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'ccg_catalog_blob'::regclass"
            " AND attname = 'bytes'"
        )
        assert storage == "e"  # external: sliced reads decompress nothing
        assert await migrations.migrate(connection) == []
    finally:
        await connection.close()
    caplog.set_level(logging.WARNING, logger=LOGGER)

    # The old version is served from its rows (one line says so), the next load has its blob.
    before = await load_catalog(store_url, settings)
    assert before.version.startswith(f"pg-{old.version_id}-")
    assert len(_fallbacks(caplog)) == 1
    assert_same_catalog(await _rows_catalog(store_url, settings), before)
    await load_offer_files(store_url, settings, _files([EC2_2017]))
    after = await load_catalog(store_url, settings)
    assert len(_fallbacks(caplog)) == 1
    assert after.lookup("AmazonEC2", "us-east-1", instanceType="c4.large") is not None


def test_migrations_are_numbered_without_gaps_and_0002_is_the_blob_table() -> None:
    available = migrations.available_migrations()
    assert [m.version for m in available] == list(range(1, len(available) + 1))
    assert available[1].name == "catalog_blobs"
    assert "CREATE TABLE ccg_catalog_blob" in available[1].sql
    assert "DROP" not in available[1].sql.upper()  # forward only: nothing of 0001 is taken away
