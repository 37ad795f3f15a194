"""Loading offer files into PostgreSQL: versions, current switch, carry-over, failures, concurrency, prune."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import asyncpg
import orjson
import pytest

from cloudcostguard import errors
from cloudcostguard.pricing.catalog import InMemoryCatalog
from cloudcostguard.pricing.snapshot import load_bundled_catalog, record_to_json, records_digest
from cloudcostguard.pricing.store import bulk_load, pool, store
from cloudcostguard.pricing.store.bulk_load import import_snapshot_records, load_offer_files
from cloudcostguard.settings import Settings
from tests.unit.pricing.offers.samples import (
    EC2_2017,
    EC2_C4,
    EC2_CSV,
    RDS_2018,
    S3_EXCERPT,
    synthetic_ec2_offer,
)

pytestmark = pytest.mark.postgres


def _files(*paths: Path) -> list[tuple[Path, str]]:
    return [(path, path.name) for path in paths]


async def _catalog(url: str, settings: Settings) -> InMemoryCatalog:
    connection = await pool.connect(url, settings)
    try:
        catalog = await store.load_catalog(connection)
    finally:
        await connection.close()
    assert catalog is not None
    return catalog


async def _versions(url: str, settings: Settings) -> list[store.VersionInfo]:
    connection = await pool.connect(url, settings)
    try:
        return await store.list_versions(connection)
    finally:
        await connection.close()


async def _tables(url: str, settings: Settings) -> set[str]:
    connection = await pool.connect(url, settings)
    try:
        rows = await connection.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ '^ccg_(product|price)_v'"
        )
        return {row["relname"] for row in rows}
    finally:
        await connection.close()


def _tiers(
    catalog: InMemoryCatalog, service: str, region: str, **attributes: str
) -> list[tuple[object, ...]]:
    price = catalog.lookup(service, region, **attributes)
    assert price is not None, (service, region, attributes)
    return [(t.start, t.end, t.unit_price) for t in price.tiers]


async def test_a_json_load_becomes_the_current_version_with_its_counts(
    store_url: str, settings: Settings
) -> None:
    result = await load_offer_files(store_url, settings, _files(S3_EXCERPT, EC2_2017))

    [version] = await _versions(store_url, settings)
    assert version.id == result.version_id
    assert (version.state, version.is_current) == ("ready", True)
    assert version.counts == {
        "AmazonS3": {"products": 2, "prices": 4},
        "AmazonEC2": {"products": 11, "prices": 12},
    }
    assert (version.product_count, version.price_count) == (13, 16)
    file_digests = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in (S3_EXCERPT, EC2_2017))
    assert version.digest == hashlib.sha256("\n".join(file_digests).encode()).hexdigest()
    assert version.publication_date is not None
    assert version.publication_date.isoformat() == "2023-01-23T17:06:43+00:00"
    assert [f["offerCode"] for f in version.files] == ["AmazonS3", "AmazonEC2"]
    assert version.ready_at is not None
    assert sorted(await _tables(store_url, settings)) == [
        f"ccg_price_v{version.id}",
        f"ccg_product_v{version.id}",
    ]


async def test_tiered_prices_survive_the_store(store_url: str, settings: Settings) -> None:
    await load_offer_files(store_url, settings, _files(S3_EXCERPT, EC2_2017))

    catalog = await _catalog(store_url, settings)

    assert _tiers(
        catalog, "AmazonS3", "us-east-1", storageClass="General Purpose", usagetype="TimedStorage-ByteHrs"
    ) == [
        (Decimal(0), Decimal(51200), Decimal("0.023")),
        (Decimal(51200), Decimal(512000), Decimal("0.022")),
        (Decimal(512000), None, Decimal("0.021")),
    ]
    assert _tiers(
        catalog, "AmazonEC2", "eu-west-1", productFamily="IP Address", usagetypeBase="ElasticIP:IdleAddress"
    ) == [
        (Decimal(0), Decimal(1), Decimal(0)),
        (Decimal(1), None, Decimal("0.005")),
    ]
    eip = catalog.lookup("AmazonEC2", "eu-west-1", productFamily="IP Address")
    assert eip is not None
    assert eip.cost_for(Decimal(730)) == Decimal("3.645")  # 729 paid hours × $0.005
    assert catalog.source == "postgresql"


async def test_a_csv_load_prices_like_the_file(store_url: str, settings: Settings) -> None:
    await load_offer_files(store_url, settings, _files(EC2_CSV))

    catalog = await _catalog(store_url, settings)

    price = catalog.lookup(
        "AmazonEC2",
        "ap-northeast-1",
        instanceType="c6i.large",
        operatingSystem="Windows",
        tenancy="Dedicated",
        preInstalledSw="SQL Web",
        capacitystatus="Used",
    )
    assert price is not None
    assert (price.unit, price.unit_price) == ("Hrs", Decimal("0.2773"))
    assert catalog.product_count == 6


async def test_a_later_load_keeps_the_services_it_does_not_cover(store_url: str, settings: Settings) -> None:
    first = await load_offer_files(store_url, settings, _files(S3_EXCERPT))

    second = await load_offer_files(store_url, settings, _files(EC2_2017))

    assert second.base_version_id == first.version_id
    assert second.carried_over == [("AmazonS3", "us-east-1")]
    catalog = await _catalog(store_url, settings)
    assert catalog.regions("AmazonS3") == {"us-east-1"}
    assert catalog.lookup("AmazonEC2", "us-east-1", instanceType="c4.large") is not None
    [current, previous] = await _versions(store_url, settings)
    assert current.counts["AmazonS3"] == previous.counts["AmazonS3"]
    assert current.digest != previous.digest


async def test_a_fresh_load_holds_only_its_files(store_url: str, settings: Settings) -> None:
    await load_offer_files(store_url, settings, _files(S3_EXCERPT))

    result = await load_offer_files(store_url, settings, _files(EC2_2017), fresh=True)

    assert result.carried_over == []
    assert (await _catalog(store_url, settings)).regions("AmazonS3") == set()


async def test_reloading_a_service_region_replaces_it(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    await load_offer_files(store_url, settings, _files(S3_EXCERPT, EC2_2017))
    document = orjson.loads(S3_EXCERPT.read_bytes())
    dimensions = document["terms"]["OnDemand"]["WP9ANXZGBYYSGJEA"]["WP9ANXZGBYYSGJEA.JRTCKXETXF"][
        "priceDimensions"
    ]
    dimensions["WP9ANXZGBYYSGJEA.JRTCKXETXF.PGHJ3S3EYE"]["pricePerUnit"]["USD"] = "0.0250000000"
    changed = tmp_path / "s3.json"
    changed.write_bytes(orjson.dumps(document))

    await load_offer_files(store_url, settings, [(changed, "s3.json")])

    catalog = await _catalog(store_url, settings)
    assert _tiers(catalog, "AmazonS3", "us-east-1", storageClass="General Purpose")[0][2] == Decimal("0.025")
    assert catalog.lookup("AmazonEC2", "us-east-1", instanceType="c4.large") is not None


async def test_a_file_failing_mid_way_leaves_the_previous_version_current(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    before = await load_offer_files(store_url, settings, _files(S3_EXCERPT))
    document = synthetic_ec2_offer(30_000)  # ~12 MB: several read chunks are COPYed before the error
    last = next(reversed(document["terms"]["OnDemand"]))
    [term] = document["terms"]["OnDemand"][last].values()
    [dimension] = term["priceDimensions"].values()
    dimension["pricePerUnit"]["USD"] = "twelve"
    broken = tmp_path / "broken.json"
    broken.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))

    with pytest.raises(errors.OfferFileError, match="price 'twelve' is not a number"):
        await load_offer_files(store_url, settings, [(broken, "broken.json")])

    [failed, current] = await _versions(store_url, settings)
    assert current.id == before.version_id and current.is_current
    assert failed.state == "failed" and not failed.is_current
    assert failed.error is not None and "twelve" in failed.error
    assert await _tables(store_url, settings) == {f"ccg_product_v{current.id}", f"ccg_price_v{current.id}"}
    assert (await _catalog(store_url, settings)).version == current.catalog_version


async def test_duplicate_skus_across_files_fail_the_load_and_leave_the_previous_version_current(
    store_url: str, settings: Settings
) -> None:
    before = await load_offer_files(store_url, settings, _files(S3_EXCERPT))

    # Both files hold SKU 4C7N4APU9GEUZ6H6: found when the new tables are indexed, after the COPYs
    # and the carry-over.
    with pytest.raises(errors.OfferFileError, match=r"appears twice .*4C7N4APU9GEUZ6H6"):
        await load_offer_files(store_url, settings, _files(EC2_2017, EC2_C4))

    versions = await _versions(store_url, settings)
    assert [(v.id, v.state, v.is_current) for v in versions] == [
        (before.version_id + 1, "failed", False),
        (before.version_id, "ready", True),
    ]
    assert await _tables(store_url, settings) == {
        f"ccg_product_v{before.version_id}",
        f"ccg_price_v{before.version_id}",
    }


async def test_a_failure_at_the_end_of_the_switch_transaction_rolls_all_of_it_back(
    store_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await load_offer_files(store_url, settings, _files(S3_EXCERPT))
    # NOTIFY is the switch transaction's last statement: an empty channel name makes it fail after
    # the tables were attached, the version marked ready and made current.
    monkeypatch.setattr(bulk_load, "CHANNEL", "")

    with pytest.raises(errors.PricingError, match="channel name cannot be empty"):
        await load_offer_files(store_url, settings, _files(EC2_2017))

    versions = await _versions(store_url, settings)
    assert [(v.id, v.state, v.is_current) for v in versions] == [
        (before.version_id + 1, "failed", False),
        (before.version_id, "ready", True),
    ]
    connection = await pool.connect(store_url, settings)
    try:
        attached = await connection.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ccg_product'::regclass"
        )
        assert attached == 1
    finally:
        await connection.close()
    assert await _tables(store_url, settings) == {
        f"ccg_product_v{before.version_id}",
        f"ccg_price_v{before.version_id}",
    }
    assert (await _catalog(store_url, settings)).lookup(
        "AmazonEC2", "us-east-1", instanceType="c4.large"
    ) is None


async def test_files_without_prices_load_nothing(store_url: str, settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b'{"offerCode": "AmazonEC2", "products": {}, "terms": {"OnDemand": {}}}')

    with pytest.raises(errors.OfferFileError, match="no on-demand USD prices") as caught:
        await load_offer_files(store_url, settings, [(empty, "empty.json")])

    assert caught.value.reason == "OfferFileEmpty"
    assert [v.state for v in await _versions(store_url, settings)] == ["failed"]


async def test_products_without_an_on_demand_price_are_not_kept(store_url: str, settings: Settings) -> None:
    result = await load_offer_files(store_url, settings, _files(RDS_2018))

    document = orjson.loads(RDS_2018.read_bytes())
    assert len(document["products"]) == 3 and len(document["terms"]["OnDemand"]) == 1
    assert (result.product_count, result.price_count) == (1, 1)


async def test_two_loads_at_once_both_land_and_the_last_keeps_the_first(
    store_url: str, settings: Settings
) -> None:
    first, second = await asyncio.gather(
        load_offer_files(store_url, settings, _files(S3_EXCERPT)),
        load_offer_files(store_url, settings, _files(EC2_2017)),
    )

    versions = {v.id: v for v in await _versions(store_url, settings)}
    assert {v.state for v in versions.values()} == {"ready"}
    [current] = [v for v in versions.values() if v.is_current]
    earlier = first if current.id == second.version_id else second
    assert current.base_version_id == earlier.version_id
    assert set(current.counts) == {"AmazonS3", "AmazonEC2"}
    catalog = await _catalog(store_url, settings)
    assert catalog.regions("AmazonS3") == {"us-east-1"}
    assert catalog.lookup("AmazonEC2", "us-east-1", instanceType="c4.large") is not None


async def test_the_switch_notifies_listeners_with_the_new_version(store_url: str, settings: Settings) -> None:
    listener = await pool.connect(store_url, settings)
    received: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(store.CHANNEL, lambda *args: received.put_nowait(args[3]))
    try:
        result = await load_offer_files(store_url, settings, _files(S3_EXCERPT))

        assert await asyncio.wait_for(received.get(), timeout=5) == str(result.version_id)
    finally:
        await listener.close()


async def test_versions_are_immutable(store_url: str, settings: Settings) -> None:
    await load_offer_files(store_url, settings, _files(S3_EXCERPT))
    connection = await pool.connect(store_url, settings)
    try:
        with pytest.raises(asyncpg.RaiseError, match="pricing versions are immutable"):
            await connection.execute("UPDATE ccg_price SET usd_per_unit = 0")
        with pytest.raises(asyncpg.RaiseError, match="pricing versions are immutable"):
            await connection.execute("UPDATE ccg_product SET region = 'x'")
    finally:
        await connection.close()


async def test_prune_keeps_the_current_and_newest_versions(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    ids = [(await load_offer_files(store_url, settings, _files(S3_EXCERPT))).version_id for _ in range(4)]
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"offerCode": "AmazonS3", "products": {"A": ')
    with pytest.raises(errors.OfferFileError):
        await load_offer_files(store_url, settings, [(bad, "bad.json")])
    connection = await pool.connect(store_url, settings)
    try:
        would = await store.prune(connection, keep=2, dry_run=True)
        removed = await store.prune(connection, keep=2)
    finally:
        await connection.close()

    assert [v.id for v in would] == [v.id for v in removed] == [ids[0], ids[1], ids[3] + 1]
    remaining = await _versions(store_url, settings)
    assert [(v.id, v.is_current) for v in remaining] == [(ids[3], True), (ids[2], False)]
    assert await _tables(store_url, settings) == {
        f"ccg_{kind}_v{version}" for kind in ("product", "price") for version in ids[2:]
    }


async def test_find_products_matches_attributes(store_url: str, settings: Settings) -> None:
    result = await load_offer_files(store_url, settings, _files(EC2_2017))
    connection = await pool.connect(store_url, settings)
    try:
        found = await store.find_products(
            connection, result.version_id, "AmazonEC2", "eu-west-1", {"productFamily": "IP Address"}
        )
    finally:
        await connection.close()

    [eip] = found
    assert eip["sku"] == "NDET67BXTNJGSGN2"
    assert [(p["tierStart"], p["tierEnd"], p["usdPerUnit"]) for p in eip["prices"]] == [
        ("0", "1", "0.0000000000"),
        ("1", None, "0.0050000000"),
    ]


async def test_the_bundled_snapshot_imports_and_exports_unchanged(store_url: str, settings: Settings) -> None:
    bundled = load_bundled_catalog()
    records = bundled.records()

    result = await import_snapshot_records(
        store_url, settings, records, source="bundled", digest=records_digest(records)
    )

    connection = await pool.connect(store_url, settings)
    try:
        exported = await store.fetch_records(connection, result.version_id)
    finally:
        await connection.close()
    assert sorted(orjson.dumps(record_to_json(r), option=orjson.OPT_SORT_KEYS) for r in exported) == sorted(
        orjson.dumps(record_to_json(r), option=orjson.OPT_SORT_KEYS) for r in records
    )
    assert result.digest != ""
    assert result.price_count == len(records)


async def _load_from_a_pipe(
    store_url: str, settings: Settings, fifo: Path, payload: bytes
) -> tuple[subprocess.Popen[bytes], BinaryIO]:
    """``pricing load FIFO`` in a child process, fed half of ``payload``; returns once it is loading."""
    os.mkfifo(fifo)
    env = {**os.environ, "CCG_DATABASE_URL": store_url, "CCG_DB_CONNECT_TIMEOUT": "2"}
    process = subprocess.Popen(  # noqa: ASYNC220 - the tests end it within seconds
        [sys.executable, "-m", "cloudcostguard", "pricing", "load", str(fifo)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    writer: BinaryIO = await asyncio.to_thread(fifo.open, "wb")
    await asyncio.to_thread(writer.write, payload[: len(payload) // 2])
    await asyncio.to_thread(writer.flush)
    deadline = time.monotonic() + 20
    while not any(v.state == "loading" for v in await _versions(store_url, settings)):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the load never started"
        await asyncio.sleep(0.1)
    return process, writer


def _end(process: subprocess.Popen[bytes], writer: BinaryIO) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(10)
    if process.stderr:
        process.stderr.close()
    with contextlib.suppress(BrokenPipeError):
        writer.close()


async def test_an_interrupted_load_is_marked_failed_and_never_current(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    before = await load_offer_files(store_url, settings, _files(S3_EXCERPT))
    payload = orjson.dumps(synthetic_ec2_offer(2000))
    process, writer = await _load_from_a_pipe(store_url, settings, tmp_path / "offer.fifo", payload)
    try:
        process.send_signal(signal.SIGINT)  # Ctrl-C

        def rest() -> None:  # the load notices at its next step, once the data flows again
            with contextlib.suppress(BrokenPipeError):
                writer.write(payload[len(payload) // 2 :])
                writer.close()

        feeding = asyncio.ensure_future(asyncio.to_thread(rest))
        code = await asyncio.to_thread(process.wait, 30)
        stderr = process.stderr.read().decode() if process.stderr else ""
        await asyncio.wait_for(feeding, 10)
    finally:
        _end(process, writer)

    assert code == 130, stderr
    assert "Traceback" not in stderr
    versions = await _versions(store_url, settings)
    assert [(v.state, v.error, v.is_current) for v in versions] == [
        ("failed", "interrupted", False),
        ("ready", None, True),
    ]
    assert versions[1].id == before.version_id
    assert await _tables(store_url, settings) == {
        f"ccg_product_v{before.version_id}",
        f"ccg_price_v{before.version_id}",
    }


async def test_a_killed_load_is_abandoned_never_current_and_pruned(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    before = await load_offer_files(store_url, settings, _files(S3_EXCERPT))
    payload = orjson.dumps(synthetic_ec2_offer(2000))
    process, writer = await _load_from_a_pipe(store_url, settings, tmp_path / "offer.fifo", payload)
    try:
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
    finally:
        _end(process, writer)

    versions = await _versions(store_url, settings)
    assert [(v.state, v.is_current) for v in versions] == [("abandoned", False), ("ready", True)]
    assert versions[1].id == before.version_id
    connection = await pool.connect(store_url, settings)
    try:
        removed = await store.prune(connection, keep=5)
    finally:
        await connection.close()
    assert [v.id for v in removed] == [versions[0].id]
    assert await _tables(store_url, settings) == {
        f"ccg_product_v{before.version_id}",
        f"ccg_price_v{before.version_id}",
    }
