"""PostgresCatalogProvider: serving, NOTIFY refresh, PostgreSQL going away, cold starts, fallbacks."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from cloudcostguard.pricing.cache_file import read_cache_file
from cloudcostguard.pricing.catalog import PriceCatalog
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.pricing.store.bulk_load import load_offer_files
from cloudcostguard.pricing.store.postgres_provider import PostgresCatalogProvider
from cloudcostguard.settings import Settings
from tests.integration.pricing.proxy import TcpProxy, closed_port
from tests.unit.pricing.offers.samples import EC2_2017, S3_EXCERPT

pytestmark = pytest.mark.postgres

WAIT = 15.0  # seconds a background refresh may take on a loaded machine


def _via_port(url: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def _target(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _s3_first_tier(catalog: PriceCatalog) -> Decimal:
    price = catalog.lookup(
        "AmazonS3", "us-east-1", storageClass="General Purpose", usagetype="TimedStorage-ByteHrs"
    )
    assert price is not None
    return price.tiers[0].unit_price


def _metric(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_start_serves_the_current_version_and_persists_it(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    loaded = await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3"), (EC2_2017, "ec2")])
    cache = tmp_path / "cache" / "catalog.json"
    provider = PostgresCatalogProvider(store_url, settings, cache_file=cache, refresh_interval=3600)
    await provider.start()
    try:
        status = provider.status()
        assert provider.ready
        assert (status.source, status.stale, status.last_error) == ("postgresql", False, None)
        assert status.version == f"pg-{loaded.version_id}-{loaded.digest[:12]}"
        assert status.age_seconds < WAIT
        assert _s3_first_tier(provider.current()) == Decimal("0.023")
        assert provider.version_id == loaded.version_id
        cached = read_cache_file(cache)
        assert cached.version == status.version
        assert cached.records() == provider.current().records()  # type: ignore[attr-defined]
        assert _metric("cloudcostguard_catalog_source", source="postgresql") == 1
        assert _metric("cloudcostguard_catalog_version_id") == loaded.version_id
        assert _metric("cloudcostguard_catalog_stale") == 0
    finally:
        await provider.stop()


async def test_a_switch_reaches_a_running_provider_through_notify(store_url: str, settings: Settings) -> None:
    await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])
    provider = PostgresCatalogProvider(store_url, settings, refresh_interval=3600)  # only NOTIFY can wake it
    seen: list[str] = []
    provider.add_listener(lambda catalog: seen.append(catalog.version))
    await provider.start()
    try:
        assert provider.current().lookup("AmazonEC2", "us-east-1", instanceType="c4.large") is None

        second = await load_offer_files(store_url, settings, [(EC2_2017, "ec2")])

        await _until(lambda: provider.version_id == second.version_id, "the notified version")
        assert seen == [provider.status().version]
        current = provider.current()
        assert current.lookup("AmazonEC2", "us-east-1", instanceType="c4.large") is not None
        assert _s3_first_tier(current) == Decimal("0.023")  # carried over
    finally:
        await provider.stop()


async def test_the_provider_keeps_serving_while_postgresql_is_unreachable(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    proxy = TcpProxy(*_target(store_url))
    await proxy.start()
    first = await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])
    provider = PostgresCatalogProvider(
        _via_port(store_url, proxy.port), settings, refresh_interval=0.5, min_retry=0.1
    )
    await provider.start()
    try:
        served = provider.current()
        assert provider.status().version.startswith(f"pg-{first.version_id}-")

        await proxy.cut()  # PostgreSQL "goes away": connections reset, new ones refused
        await _until(lambda: provider.status().stale, "the provider to notice")

        status = provider.status()
        assert status.source == "postgresql"
        assert status.last_error is not None and "PostgreSQL" in status.last_error
        assert provider.current() is served  # the last good catalog, untouched
        assert _s3_first_tier(provider.current()) == Decimal("0.023")
        assert _metric("cloudcostguard_catalog_stale") == 1
        confirmed_at = status.loaded_at
        await asyncio.sleep(0.6)
        assert provider.status().age_seconds >= 0.5  # the age grows while stale
        assert provider.status().loaded_at == confirmed_at

        second = await load_offer_files(store_url, settings, [(EC2_2017, "ec2")])  # switched meanwhile
        await proxy.start()  # back

        await _until(lambda: provider.version_id == second.version_id, "recovery and the new version")
        status = provider.status()
        assert (status.stale, status.last_error) == (False, None)
        assert provider.current().lookup("AmazonEC2", "us-east-1", instanceType="c4.large") is not None
        assert _metric("cloudcostguard_catalog_stale") == 0
    finally:
        await provider.stop()
        await proxy.cut()


async def test_a_cold_start_without_postgresql_serves_the_persisted_catalog(
    store_url: str, settings: Settings, tmp_path: Path
) -> None:
    await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3"), (EC2_2017, "ec2")])
    cache = tmp_path / "catalog.json"
    warm = PostgresCatalogProvider(store_url, settings, cache_file=cache, refresh_interval=3600)
    await warm.start()
    version, records = warm.status().version, warm.current().records()  # type: ignore[attr-defined]
    await warm.stop()

    cold = PostgresCatalogProvider(
        _via_port(store_url, closed_port()), settings, cache_file=cache, refresh_interval=3600
    )
    await cold.start()
    try:
        status = cold.status()
        assert (status.source, status.version, status.stale) == ("cache-file", version, True)
        assert status.last_error is not None and "cannot connect to PostgreSQL" in status.last_error
        assert status.loaded_at == cache.stat().st_mtime  # the age counts from when it was fetched
        assert cold.current().records() == records  # type: ignore[attr-defined]
        assert cold.ready
        assert _metric("cloudcostguard_catalog_source", source="cache-file") == 1
    finally:
        await cold.stop()


async def test_with_no_database_and_no_cache_file_the_bundled_snapshot_is_served(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    provider = PostgresCatalogProvider(
        _via_port(database_url, closed_port()),
        settings,
        cache_file=tmp_path / "missing.json",
        refresh_interval=3600,
    )
    await provider.start()
    try:
        status = provider.status()
        assert (status.source, status.version, status.stale) == (
            "bundled",
            load_bundled_catalog().version,
            True,
        )
        assert provider.current() is load_bundled_catalog()
        assert provider.ready
    finally:
        await provider.stop()


async def test_a_corrupt_cache_file_falls_back_to_the_bundled_snapshot(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    cache = tmp_path / "catalog.json"
    cache.write_text("{not json")
    provider = PostgresCatalogProvider(
        _via_port(database_url, closed_port()), settings, cache_file=cache, refresh_interval=3600
    )
    await provider.start()
    try:
        assert provider.status().source == "bundled"
    finally:
        await provider.stop()


async def test_an_empty_store_serves_the_fallback_then_its_first_version(
    store_url: str, settings: Settings
) -> None:
    provider = PostgresCatalogProvider(store_url, settings, refresh_interval=3600)
    await provider.start()
    try:
        status = provider.status()
        assert (status.source, status.stale) == ("bundled", False)
        assert status.last_error is not None and "no current version" in status.last_error

        loaded = await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])

        await _until(lambda: provider.version_id == loaded.version_id, "the first version")
        assert provider.status().source == "postgresql"
        assert provider.status().last_error is None
    finally:
        await provider.stop()


async def test_an_unmigrated_store_is_reported_and_the_fallback_served(
    empty_store_url: str, settings: Settings
) -> None:
    provider = PostgresCatalogProvider(empty_store_url, settings, refresh_interval=3600)
    await provider.start()
    try:
        status = provider.status()
        assert status.source == "bundled"
        assert status.last_error is not None and "pricing migrate" in status.last_error
    finally:
        await provider.stop()


async def test_the_catalog_holds_only_the_configured_services_and_regions(
    store_url: str, tmp_path: Path
) -> None:
    limited = Settings(pricing_services=["AmazonEC2"], pricing_regions=["eu-west-1"], db_connect_timeout=2.0)
    everything = Settings(db_connect_timeout=2.0)
    await load_offer_files(store_url, everything, [(S3_EXCERPT, "s3"), (EC2_2017, "ec2")])
    provider = PostgresCatalogProvider(store_url, limited, refresh_interval=3600)
    await provider.start()
    try:
        catalog = provider.current()
        assert {r.service for r in catalog.records()} == {"AmazonEC2"}  # type: ignore[attr-defined]
        assert {r.region for r in catalog.records()} == {"eu-west-1"}  # type: ignore[attr-defined]
    finally:
        await provider.stop()


async def test_stop_is_prompt_and_idempotent(store_url: str, settings: Settings) -> None:
    await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])
    provider = PostgresCatalogProvider(store_url, settings, refresh_interval=3600)
    await provider.start()

    started = time.monotonic()
    await provider.stop()
    await provider.stop()

    assert time.monotonic() - started < 5
    assert provider.current().version.startswith("pg-")  # still answers after stop


async def test_a_refreshed_catalog_arrives_with_the_indexes_lookups_used(
    store_url: str, settings: Settings
) -> None:
    await load_offer_files(store_url, settings, [(EC2_2017, "ec2")])
    provider = PostgresCatalogProvider(store_url, settings, refresh_interval=3600)
    await provider.start()
    try:
        serving = provider.current()
        assert serving.lookup("AmazonEC2", "us-east-1", instanceType="c4.large", operatingSystem="Linux")
        used = serving.index_keys()  # type: ignore[attr-defined]

        second = await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])
        await _until(lambda: provider.version_id == second.version_id, "the new version")

        assert provider.current().index_keys() == used  # type: ignore[attr-defined]
    finally:
        await provider.stop()
