"""InMemoryCatalog: lookups by attribute subsets, tiers, region-free usage types, best source wins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord, usagetype_base

D = Decimal


def _record(region: str, usagetype: str, price: str, **extra: str) -> PriceRecord:
    return PriceRecord("AmazonEC2", region, {"usagetype": usagetype, **extra}, "Hrs", D(price))


@pytest.mark.parametrize(
    ("usagetype", "base"),
    [
        ("NatGateway-Hours", "NatGateway-Hours"),
        ("USE2-NatGateway-Hours", "NatGateway-Hours"),
        ("EU-BoxUsage:t3.micro", "BoxUsage:t3.micro"),
        ("APN1-EBS:VolumeUsage.gp3", "EBS:VolumeUsage.gp3"),
        ("IA-TimedStorage-ByteHrs", "IA-TimedStorage-ByteHrs"),
        ("USE2-IA-TimedStorage-ByteHrs", "IA-TimedStorage-ByteHrs"),
    ],
)
def test_usagetype_base_strips_only_region_prefixes(usagetype: str, base: str) -> None:
    assert usagetype_base(usagetype) == base


def test_lookup_matches_region_free_usage_types_in_every_region() -> None:
    catalog = InMemoryCatalog(
        [
            _record("us-east-1", "NatGateway-Hours", "0.045"),
            _record("eu-west-1", "EU-NatGateway-Hours", "0.048"),
        ],
        source="test",
        version="1",
    )
    east = catalog.lookup("AmazonEC2", "us-east-1", usagetypeBase="NatGateway-Hours")
    west = catalog.lookup("AmazonEC2", "eu-west-1", usagetypeBase="NatGateway-Hours")
    assert east is not None and east.unit_price == D("0.045")
    assert west is not None and west.unit_price == D("0.048")
    assert catalog.lookup("AmazonEC2", "ap-south-1", usagetypeBase="NatGateway-Hours") is None


def test_tiers_are_walked_in_order() -> None:
    tiers = [
        PriceRecord("AmazonS3", "us-east-1", {"storageClass": "General Purpose"}, "GB-Mo", D(p), D(a), b)
        for p, a, b in (("0.023", "0", D(51200)), ("0.022", "51200", D(512000)), ("0.021", "512000", None))
    ]
    price = InMemoryCatalog(tiers, source="t", version="1").lookup(
        "AmazonS3", "us-east-1", storageClass="General Purpose"
    )
    assert price is not None
    assert price.cost_for(D(100)) == D("2.300")
    assert price.cost_for(D(60000)) == D(51200) * D("0.023") + D(8800) * D("0.022")
    assert price.cost_for(D(600000)) == D(51200) * D("0.023") + D(460800) * D("0.022") + D(88000) * D("0.021")


def test_better_sourced_product_wins_when_a_query_matches_several() -> None:
    low = PriceRecord(
        "AmazonEC2", "us-east-1", {"instanceType": "t3.micro", "x": "1"}, "Hrs", D("9"), confidence="low"
    )
    high = PriceRecord(
        "AmazonEC2", "us-east-1", {"instanceType": "t3.micro", "x": "2"}, "Hrs", D("1"), confidence="high"
    )
    price = InMemoryCatalog([low, high], source="t", version="1").lookup(
        "AmazonEC2", "us-east-1", instanceType="t3.micro"
    )
    assert price is not None and price.unit_price == D("1")


def test_records_round_trip_without_the_derived_attribute() -> None:
    record = _record("us-east-2", "USE2-NatGateway-Hours", "0.045")
    [back] = InMemoryCatalog([record], source="t", version="1").records()
    assert back == record
