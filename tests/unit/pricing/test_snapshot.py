"""The snapshot formats: the compact (v2) file round-trips, and the bundled snapshot's contents."""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from importlib import resources

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scripts.build_price_snapshot import KARPENTER_ATTRIBUTES as LINUX

from cloudcostguard import errors
from cloudcostguard.pricing.catalog import DERIVED_USAGETYPE, InMemoryCatalog, PriceRecord
from cloudcostguard.pricing.snapshot import (
    BUNDLED_RESOURCE,
    dump_compact_snapshot,
    dump_snapshot,
    load_bundled_catalog,
    parse_snapshot,
    parse_snapshot_document,
)


def _bundled_document() -> dict[str, object]:
    payload = resources.files("cloudcostguard.pricing").joinpath("data", BUNDLED_RESOURCE).read_bytes()
    document: dict[str, object] = orjson.loads(gzip.decompress(payload))
    return document


def _key(record: PriceRecord) -> tuple[object, ...]:
    return (
        record.service,
        record.region,
        tuple(sorted(record.attributes.items())),
        record.unit,
        record.tier_start,
        record.tier_end,
        record.unit_price,
        record.origin,
        record.confidence,
    )


@st.composite
def _records(draw: st.DrawFn) -> list[PriceRecord]:
    """Products of one to three tiers; a product's tiers share everything but price, range and origin."""
    records = []
    for number in range(draw(st.integers(1, 12))):
        names = st.sampled_from(["instanceType", "usagetype", "volumeApiName"])
        attributes = {**draw(st.dictionaries(names, st.text(min_size=1))), "sku": f"SKU{number}"}
        service = draw(st.sampled_from(["AmazonEC2", "AmazonS3"]))
        region = draw(st.sampled_from(["us-east-1", "eu-central-1"]))
        confidence = draw(st.sampled_from(["high", "medium"]))
        starts = sorted(draw(st.sets(st.integers(0, 1000), min_size=1, max_size=3)))
        for position, start in enumerate(starts):
            end = starts[position + 1] if position + 1 < len(starts) else None
            records.append(
                PriceRecord(
                    service=service,
                    region=region,
                    attributes=attributes,
                    unit="Hrs",
                    unit_price=Decimal(draw(st.integers(0, 10**6))) / 10**4,
                    tier_start=Decimal(start),
                    tier_end=None if end is None else Decimal(end),
                    origin=draw(st.sampled_from(["offer file A", "golden B"])),
                    confidence=confidence,
                )
            )
    return records


@settings(max_examples=60, deadline=None)
@given(_records())
def test_compact_snapshot_reads_back_the_catalog_the_v1_format_gives(records: list[PriceRecord]) -> None:
    compact = parse_snapshot(
        dump_compact_snapshot(records, version="v", source="t", generated_at="now", published_at=None),
        source="x",
    )
    verbose = parse_snapshot(dump_snapshot(records, version="v", source="t", generated_at="now"), source="x")
    assert sorted(map(_key, compact.records())) == sorted(map(_key, verbose.records()))


def test_the_compact_reader_builds_the_catalog_from_products_builds() -> None:
    """``from_shaped_groups`` (one shape per group) holds what ``from_products`` makes of the same
    products: the same (service, region) groups, shapes with the derived usage type, values, prices and
    order (ties in the best-first order keep it), so every lookup answers alike."""
    payload = resources.files("cloudcostguard.pricing").joinpath("data", BUNDLED_RESOURCE).read_bytes()
    compact, read = parse_snapshot(payload, source="x"), parse_snapshot(payload, source="x")
    products = [
        (service, region, {k: v for k, v in attributes.items() if k != DERIVED_USAGETYPE}, price)
        for (service, region), _ in read.shaped_products()
        for attributes, price in read.products(service, region)
    ]
    generic = InMemoryCatalog.from_products(products, source="x", version=compact.version)
    assert compact.record_count == generic.record_count == sum(len(p[3].tiers) for p in products)
    assert compact.shaped_products() == generic.shaped_products()
    assert compact.lookup("AmazonEC2", "us-east-1", instanceType="m5.large", **LINUX) is not None


def test_the_bundled_snapshot_built_on_demand_is_the_catalog_built_at_once() -> None:
    """``lazy``: each (service, region) is built on first use — a lookup builds its own alone, and
    threads asking at once all see it whole — and the whole catalog equals the eager one."""
    payload = resources.files("cloudcostguard.pricing").joinpath("data", BUNDLED_RESOURCE).read_bytes()
    eager, header = parse_snapshot_document(payload, source="x")
    lazy, lazy_header = parse_snapshot_document(payload, source="x", lazy=True)
    assert lazy_header == header
    assert lazy.record_count == eager.record_count and lazy.covered_regions() == eager.covered_regions()
    assert lazy.regions("AmazonEC2") == eager.regions("AmazonEC2")
    with ThreadPoolExecutor(8) as pool:
        found = list(
            pool.map(
                lambda _: lazy.lookup("AmazonEC2", "us-east-1", instanceType="m5.large", **LINUX), range(8)
            )
        )
    assert found == [eager.lookup("AmazonEC2", "us-east-1", instanceType="m5.large", **LINUX)] * 8
    assert found[0] is not None
    # Which groups were built: no public view says it, the catalog's own table does.
    built = {key for key, products in lazy._products.items() if products}
    assert built == {("AmazonEC2", "us-east-1")}
    assert lazy.shaped_products() == eager.shaped_products()
    assert lazy.records() == eager.records() and lazy.product_count == eager.product_count


def test_a_malformed_row_read_on_demand_is_a_pricing_error_when_its_prices_are_asked_for() -> None:
    document = {
        "format": "cloudcostguard-price-snapshot/v2",
        "origins": [{"origin": "o", "confidence": "official"}],
        "groups": [
            {"service": "S", "unit": "Hrs", "fixed": {}, "columns": ["a"], "rows": [["r1", 0, "x", "1"]]},
            {"service": "T", "unit": "Hrs", "fixed": {}, "columns": ["a"], "rows": [["r1", 0, "x", "one"]]},
        ],
    }
    catalog, _ = parse_snapshot_document(orjson.dumps(document), source="x", lazy=True)
    assert catalog.lookup("S", "r1", a="x") is not None
    with pytest.raises(errors.PricingError, match="malformed group"):
        catalog.lookup("T", "r1", a="x")
    with pytest.raises(errors.PricingError, match="malformed group"):
        parse_snapshot_document(orjson.dumps(document), source="x")


def test_compact_snapshot_is_the_same_bytes_for_the_same_records() -> None:
    records = load_bundled_catalog().records()
    first = dump_compact_snapshot(
        records, version="v", source="s", generated_at="g", published_at="2026-07-20"
    )
    again = dump_compact_snapshot(
        list(reversed(records)), version="v", source="s", generated_at="g", published_at="2026-07-20"
    )
    assert first == again


@pytest.mark.parametrize(
    "payload",
    [
        b"\x1f\x8b\x08\x00 truncated gzip",
        gzip.compress(
            b'{"format": "cloudcostguard-price-snapshot/v2", "origins": [], "groups": [{"rows": 1}]}'
        ),
        gzip.compress(b"[1, 2]"),
    ],
)
def test_a_corrupt_compact_snapshot_is_a_pricing_error(payload: bytes) -> None:
    with pytest.raises(errors.PricingError):
        parse_snapshot(payload, source="x")


def test_bundled_snapshot_prices_every_ec2_instance_type_of_the_karpenter_table() -> None:
    catalog = load_bundled_catalog()
    instance_types = {
        record.attributes["instanceType"]
        for record in catalog.records()
        if record.service == "AmazonEC2"
        and record.region == "us-east-1"
        and "instanceType" in record.attributes
    }
    # 1,367 types in the table's us-east-1 map (PROVENANCE.md); the reference table adds none beyond it.
    assert len(instance_types) == 1367
    for instance_type, hourly in (("m3.medium", "0.067"), ("m7i.large", "0.1008"), ("c7g.large", "0.0725")):
        price = catalog.lookup("AmazonEC2", "us-east-1", instanceType=instance_type, **LINUX)
        assert price is not None and price.unit_price == Decimal(hourly), instance_type
        assert price.origin.startswith("aws/karpenter-provider-aws@1d927085")
        assert "EKS managed node is billed as its EC2 instance" in price.origin
    assert catalog.lookup("AmazonEC2", "us-gov-west-1", instanceType="m5.large", **LINUX) is not None


def test_bundled_snapshot_overlaps_between_sources_agree_and_the_best_source_is_kept() -> None:
    overlaps = _bundled_document()["overlaps"]
    assert isinstance(overlaps, list)
    # The Karpenter table and the reference table's [high] rows price the same us-east-1 instances
    # (t3, m5, c5, r5, m6i, …): a real overlap, so this test cannot pass on an empty list.
    assert len(overlaps) >= 30
    rank = {"high": 0, "medium": 1, "low": 2}
    for overlap in overlaps:
        assert overlap["agrees"], overlap
        prices = {p["usdPerUnit"] for p in overlap["prices"]}
        assert len({Decimal(p) for p in prices}) == 1, overlap
        chosen = next(p for p in overlap["prices"] if p["chosen"])
        for other in overlap["prices"]:
            assert rank[chosen["confidence"]] <= rank[other["confidence"]]
            if other["confidence"] == chosen["confidence"]:
                assert (chosen["asOf"] or "") >= (other["asOf"] or "")


def test_bundled_snapshot_records_its_publication_date_and_every_origin() -> None:
    document = _bundled_document()
    assert document["publishedAt"] == load_bundled_catalog().published_at == "2026-08-21"
    origins = document["origins"]
    assert isinstance(origins, list)
    assert all(o["origin"] and o["confidence"] in ("high", "medium", "low") for o in origins)


def test_no_shipped_price_is_a_derivation() -> None:
    """The reference table's "derived = 2 x Single-AZ" rows are not AWS prices: they are left out."""
    origins = {record.origin for record in load_bundled_catalog().records()}
    assert not [o for o in origins if o.startswith("derived")]
    multi_az = load_bundled_catalog().lookup(
        "AmazonRDS",
        "us-east-1",
        productFamily="Database Instance",
        instanceType="db.r5.large",
        databaseEngine="PostgreSQL",
        deploymentOption="Multi-AZ",
    )
    assert multi_az is None  # only ever derived: not shipped; `pricing sync` has AWS's own price
