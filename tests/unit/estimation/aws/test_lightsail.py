"""aws_lightsail_instance: the bundle's usage type, asked of a catalog that has it."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from tests.unit.estimation.aws.single_resource import HOURS, component, price_resource

# A catalog of one made-up rate: what is tested is which product the bundle asks for.
RATE = Decimal("0.01")
CATALOG = InMemoryCatalog(
    [
        PriceRecord(
            "AmazonLightsail",
            "us-east-1",
            {"productFamily": "Lightsail Instance", "usagetype": "USE1-BundleUsage:2GB_win"},
            "Hrs",
            RATE,
        )
    ],
    source="test",
    version="1",
)


def test_a_windows_bundle_asks_for_its_memory_and_windows_usage_type() -> None:
    instance = price_resource(
        "aws_lightsail_instance.win",
        {"bundle_id": "small_win_2_0", "availability_zone": "us-east-1a"},
        catalog=CATALOG,
    )
    line = component(instance, "Virtual server (Windows)")
    assert line.monthly_cost == RATE * HOURS


def test_a_linux_bundle_of_another_size_has_no_price_there() -> None:
    instance = price_resource("aws_lightsail_instance.linux", {"bundle_id": "small_2_0"}, catalog=CATALOG)
    assert component(instance, "Virtual server (Linux/UNIX)").price_not_found
