"""The catalog cache file gives back the very catalog written, and refuses anything else with a reason."""

from __future__ import annotations

import marshal
from decimal import Decimal
from pathlib import Path

import pytest

from cloudcostguard import errors
from cloudcostguard.pricing import cache_file
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from cloudcostguard.pricing.snapshot import dump_snapshot, load_bundled_catalog


def _catalog() -> InMemoryCatalog:
    records = [
        *load_bundled_catalog().records(),
        # Numbers equal in value but not in text, and a tiered price: written back exactly as given.
        PriceRecord(
            "AmazonS3", "us-east-1", {"usagetype": "TimedStorage-ByteHrs"}, "GB-Mo", Decimal("0.0230")
        ),
        PriceRecord(
            "AmazonS3",
            "us-east-1",
            {"usagetype": "TimedStorage-ByteHrs"},
            "GB-Mo",
            Decimal("0.022"),
            tier_start=Decimal("51200.0"),
            tier_end=None,
        ),
        PriceRecord(
            "AmazonEC2",
            "eu-west-1",
            {"usagetype": "EU-BoxUsage:t3.micro", "sku": "X1"},
            "Hrs",
            Decimal("0.0114"),
            tier_end=Decimal("1E+2"),
            origin="test",
            confidence="high",
        ),
    ]
    return InMemoryCatalog(records, source="postgresql", version="pg-7-abcdef")


def test_a_written_catalog_reads_back_the_same(tmp_path: Path) -> None:
    catalog = _catalog()
    path = tmp_path / "catalog.cache"
    cache_file.write_cache_file(path, catalog)
    read = cache_file.read_cache_file(path)
    assert (read.source, read.version) == ("cache-file", "pg-7-abcdef")
    assert [str(r.unit_price) for r in read.records()] == [str(r.unit_price) for r in catalog.records()]
    assert read.records() == catalog.records()
    assert read.shaped_products() == catalog.shaped_products()  # the same best-first order
    assert (read.record_count, read.product_count) == (catalog.record_count, catalog.product_count)
    query = {"usagetypeBase": "BoxUsage:t3.micro"}
    assert read.lookup("AmazonEC2", "eu-west-1", **query) == catalog.lookup("AmazonEC2", "eu-west-1", **query)
    assert read.lookup("AmazonEC2", "eu-west-1", **query) is not None


def test_the_cache_file_is_smaller_than_the_json_snapshot_of_the_same_catalog() -> None:
    catalog = _catalog()
    json_size = len(dump_snapshot(catalog.records(), version="v", source="s", generated_at="now"))
    assert len(cache_file.dump_catalog(catalog)) < json_size / 2


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda payload: payload[:-1] + bytes([payload[-1] ^ 1]), "damaged"),
        (lambda payload: payload[: len(payload) // 2], "damaged"),
        (
            lambda payload: b'{"format": "cloudcostguard-price-snapshot/v1", "records": []}',
            "not a catalog cache",
        ),
        (lambda payload: b"", "not a catalog cache"),
        (lambda payload: payload[:10] + b"\x00\x02" + payload[12:], "has format 2/marshal"),
    ],
    ids=["flipped bit", "truncated", "old JSON cache file", "empty", "newer format"],
)
def test_a_damaged_or_foreign_file_is_refused_with_a_reason(tmp_path: Path, damage, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "catalog.cache"
    path.write_bytes(damage(cache_file.dump_catalog(_catalog())))
    with pytest.raises(errors.PricingError, match=reason):
        cache_file.read_cache_file(path)


def test_a_body_that_does_not_decode_is_refused(tmp_path: Path) -> None:
    import hashlib
    import struct

    body = marshal.dumps(["only", "three", "fields"])
    header = struct.pack(">HH32s", cache_file.FORMAT, marshal.version, hashlib.sha256(body).digest())
    path = tmp_path / "catalog.cache"
    path.write_bytes(cache_file.MAGIC + header + body)
    with pytest.raises(errors.PricingError, match="does not decode"):
        cache_file.read_cache_file(path)


def test_a_missing_file_is_a_pricing_error(tmp_path: Path) -> None:
    with pytest.raises(errors.PricingError, match="cannot read the catalog cache file"):
        cache_file.read_cache_file(tmp_path / "missing")


def test_shaped_attributes_read_like_the_dict_they_stand_for() -> None:
    from cloudcostguard.pricing.catalog import ShapedAttributes

    attributes = ShapedAttributes(("usagetype", "sku"), ("BoxUsage:t3.micro", "X1"))
    assert dict(attributes) == {"usagetype": "BoxUsage:t3.micro", "sku": "X1"} == attributes
    assert attributes["sku"] == "X1" and attributes.get("missing") is None and len(attributes) == 2
    with pytest.raises(KeyError):
        attributes["missing"]
    price = load_bundled_catalog().records()[0]
    from_shaped = InMemoryCatalog.from_products(
        [
            (
                price.service,
                price.region,
                ShapedAttributes(tuple(price.attributes), tuple(price.attributes.values())),
                load_bundled_catalog().lookup(price.service, price.region, **price.attributes),
            )
        ],  # type: ignore[list-item]
        source="s",
        version="v",
    )
    assert from_shaped.lookup(price.service, price.region, **price.attributes) is not None
