"""A small price catalog and a test-only pricer for plan-structure tests (plan documents: ``tests.plans``).

The test pricer (``aws_ccgtest_server``) and catalog make every number in these tests traceable: prices
differ per region so region resolution is visible in the totals, and nothing depends on the bundled
snapshot or on which AWS pricers exist.

    server size "small": $0.10/h in us-east-1, $0.20/h in us-west-2, $0.30/h in eu-west-1 (730 h/month)
    server size "large": $1.00/h in us-east-1
    storage:             $0.10/GB-month in us-east-1, $0.12 in us-west-2, $0.11 in eu-west-1
    requests:            $0.20 per 1M requests in us-east-1 (usage-based: monthly_requests)
    NAT gateway:         $0.045/h and $0.045/GB in us-east-1, $0.048/h in us-west-2
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PRICERS, PricingContext
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord

TEST_TYPE = "aws_ccgtest_server"
TEST_SERVICE = "CcgTestService"
DEFAULT_DISK_GB = Decimal(8)  # what the test pricer assumes when the disk size is unknown


def _record(service: str, region: str, unit: str, price: str, **attributes: str) -> PriceRecord:
    return PriceRecord(
        service, region, attributes, unit, Decimal(price), origin="test", confidence="official"
    )


def make_catalog() -> InMemoryCatalog:
    records = [
        _record(TEST_SERVICE, "us-east-1", "Hrs", "0.10", productFamily="Server", size="small"),
        _record(TEST_SERVICE, "us-west-2", "Hrs", "0.20", productFamily="Server", size="small"),
        _record(TEST_SERVICE, "eu-west-1", "Hrs", "0.30", productFamily="Server", size="small"),
        _record(TEST_SERVICE, "us-east-1", "Hrs", "1.00", productFamily="Server", size="large"),
        _record(TEST_SERVICE, "us-east-1", "GB-Mo", "0.10", productFamily="Storage"),
        _record(TEST_SERVICE, "us-west-2", "GB-Mo", "0.12", productFamily="Storage"),
        _record(TEST_SERVICE, "eu-west-1", "GB-Mo", "0.11", productFamily="Storage"),
        _record(TEST_SERVICE, "us-east-1", "Requests", "0.0000002", productFamily="Requests"),
        _record(
            "AmazonEC2",
            "us-east-1",
            "Hrs",
            "0.045",
            productFamily="NAT Gateway",
            usagetype="NatGateway-Hours",
        ),
        _record(
            "AmazonEC2",
            "us-east-1",
            "GB",
            "0.045",
            productFamily="NAT Gateway",
            usagetype="NatGateway-Bytes",
        ),
        _record(
            "AmazonEC2",
            "us-west-2",
            "Hrs",
            "0.048",
            productFamily="NAT Gateway",
            usagetype="USW2-NatGateway-Hours",
        ),
    ]
    return InMemoryCatalog(records, source="test", version="test-1")


def price_test_server(ctx: PricingContext) -> list[CostComponent]:
    """Hourly server by ``size``; a root disk (8 GB when unknown); extra ``disk`` blocks; requests."""

    def lookup(family: str, **attributes: str) -> Any:
        return ctx.catalog.lookup(TEST_SERVICE, ctx.region, productFamily=family, **attributes)

    size = ctx.attrs.text("size", "small") or "small"
    components = [priced(f"Server ({size})", "hours", ctx.hours_per_month, lookup("Server", size=size))]
    root = ctx.attrs.block("root_disk")
    root_gb = None if root.is_unknown("size_gb") else root.decimal("size_gb")
    components.append(
        priced(
            "Storage",
            "GB",
            root_gb if root_gb is not None else DEFAULT_DISK_GB,
            lookup("Storage"),
            subresource="root_disk",
        )
    )
    for position, disk in enumerate(ctx.attrs.blocks("disk")):
        components.append(
            priced(
                "Storage",
                "GB",
                disk.decimal("size_gb", Decimal(0)),
                lookup("Storage"),
                subresource=f"disk[{position}]",
            )
        )
    components.append(
        priced(
            "Requests",
            "1M requests",
            _millions(ctx.usage.decimal("monthly_requests")),
            lookup("Requests"),
            usage_based=True,
            unit_scale=Decimal(1_000_000),
        )
    )
    return components


def _millions(value: Decimal | None) -> Decimal | None:
    return None if value is None else value / Decimal(1_000_000)


@contextmanager
def registered_test_pricer() -> Iterator[None]:
    """Register ``aws_ccgtest_server`` for the duration of a test (the registry is process-wide)."""
    assert TEST_TYPE not in PRICERS
    PRICERS[TEST_TYPE] = price_test_server
    try:
        yield
    finally:
        del PRICERS[TEST_TYPE]


def server(size: str = "small", **extra: Any) -> dict[str, Any]:
    """``after``/``before`` values of a test server."""
    return {"size": size, "root_disk": [{"size_gb": 20}], **extra}
