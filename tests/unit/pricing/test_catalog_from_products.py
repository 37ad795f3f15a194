"""``InMemoryCatalog.from_products`` builds the catalog the constructor builds, faster."""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudcostguard.pricing.catalog import InMemoryCatalog, Price, PriceRecord, PriceTier
from cloudcostguard.pricing.snapshot import load_bundled_catalog

_NAMES = ["productFamily", "usagetype", "instanceType", "group", "groupDescription", "g"]
_VALUES = st.sampled_from(["", "a", "ab", "b", "Linux", "USE2-BoxUsage:t3.micro", "BoxUsage:t3.micro", "Z"])


def _grouped(records: list[PriceRecord]) -> list[tuple[str, str, dict[str, str], Price]]:
    """What the pricing store hands over: each product's tiers already grouped into one Price."""
    groups: dict[tuple[object, ...], list[PriceRecord]] = {}
    for record in records:
        key = (record.service, record.region, record.unit, tuple(sorted(record.attributes.items())))
        groups.setdefault(key, []).append(record)
    products = []
    for (service, region, unit, attributes), tiers in groups.items():
        tiers.sort(key=lambda r: r.tier_start)
        first = tiers[0]
        price = Price(
            unit,
            tuple(PriceTier(r.tier_start, r.tier_end, r.unit_price) for r in tiers),
            origin=first.origin,
            confidence=first.confidence,
        )
        products.append((str(service), str(region), dict(attributes), price))  # type: ignore[arg-type]
    return products


def _same(records: list[PriceRecord]) -> None:
    built = InMemoryCatalog(records, source="s", version="v")
    fast = InMemoryCatalog.from_products(_grouped(records), source="s", version="v")

    assert fast.records() == built.records()  # same products, in the same best-first order
    assert (fast.record_count, fast.product_count) == (built.record_count, built.product_count)
    for record in records:
        names = sorted(record.attributes) + ["usagetypeBase"] * ("usagetype" in record.attributes)
        for size in range(len(names) + 1):
            for chosen in combinations(names, size):
                query = {name: record.attributes.get(name, "") for name in chosen}
                if "usagetypeBase" in query:
                    query["usagetypeBase"] = record.attributes["usagetype"].split("-", 1)[-1]
                assert fast.lookup(record.service, record.region, **query) == built.lookup(
                    record.service, record.region, **query
                ), query


def test_the_bundled_snapshot_builds_the_same_catalog_both_ways() -> None:
    records = load_bundled_catalog().records()

    built = InMemoryCatalog(records, source="s", version="v")
    fast = InMemoryCatalog.from_products(_grouped(records), source="s", version="v")

    assert fast.records() == built.records()
    for record in records:
        assert fast.lookup(record.service, record.region, **record.attributes) == built.lookup(
            record.service, record.region, **record.attributes
        )


@st.composite
def _records(draw: st.DrawFn) -> list[PriceRecord]:
    records = []
    for _ in range(draw(st.integers(1, 8))):
        attributes = draw(st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=4))
        records.append(
            PriceRecord(
                service="S",
                region=draw(st.sampled_from(["r1", "r2"])),
                attributes=attributes,
                unit=draw(st.sampled_from(["Hrs", "GB"])),
                unit_price=Decimal(draw(st.integers(0, 9))),
                tier_start=Decimal(draw(st.sampled_from([0, 10]))),
                confidence=draw(st.sampled_from(["official", "high", "low"])),
            )
        )
    return records


@settings(max_examples=200, deadline=None)
@given(records=_records())
def test_any_records_build_the_same_catalog_both_ways(records: list[PriceRecord]) -> None:
    _same(records)


def test_a_snapshot_file_reads_into_the_same_catalog_as_the_snapshot_reader(tmp_path: Path) -> None:
    from cloudcostguard.pricing.snapshot import dump_snapshot, read_snapshot_file
    from cloudcostguard.pricing.store.store import catalog_from_snapshot_file

    records = load_bundled_catalog().records()
    # Some products carrying their SKU, as offer-file products do, with two tiers each.
    records += [
        PriceRecord(
            "S", "r", {"sku": f"SKU{n}", "usagetype": "EU-BoxUsage:x"}, "Hrs", Decimal(n), Decimal(start)
        )
        for n in range(3)
        for start in (0, 5)
    ]
    path = tmp_path / "cache.json"
    path.write_bytes(dump_snapshot(records, version="pg-7-abc", source="postgresql", generated_at="now"))

    expected = read_snapshot_file(path, source="cache-file")
    fast = catalog_from_snapshot_file(path, source="cache-file")

    assert (fast.source, fast.version) == ("cache-file", "pg-7-abc")
    assert fast.records() == expected.records()
    for record in records:
        assert fast.lookup(record.service, record.region, **record.attributes) == expected.lookup(
            record.service, record.region, **record.attributes
        )


def test_a_corrupt_snapshot_file_is_a_pricing_error(tmp_path: Path) -> None:
    from cloudcostguard.errors import PricingError
    from cloudcostguard.pricing.store.store import catalog_from_snapshot_file

    path = tmp_path / "cache.json"
    for payload, message in (
        (b"{", "not valid JSON"),
        (b'{"format": "x"}', "not in the"),
        (
            b'{"format": "cloudcostguard-price-snapshot/v1", "records": [{"service": "S"}]}',
            "malformed record",
        ),
    ):
        path.write_bytes(payload)
        with pytest.raises(PricingError, match=message):
            catalog_from_snapshot_file(path, source="cache-file")


def test_indexes_built_on_one_catalog_can_be_built_ahead_on_another() -> None:
    records = load_bundled_catalog().records()
    serving = InMemoryCatalog.from_products(_grouped(records), source="s", version="1")
    serving.lookup("AmazonEC2", "us-east-1", instanceType="m5.large", operatingSystem="Linux")
    refreshed = InMemoryCatalog.from_products(_grouped(records), source="s", version="2")

    refreshed.build_indexes(serving.index_keys())

    assert (
        refreshed.index_keys()
        == serving.index_keys()
        == [("AmazonEC2", "us-east-1", ("instanceType", "operatingSystem"))]
    )
