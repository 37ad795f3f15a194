"""Usage-only types: a usage file's aws_data_transfer entry is a resource of the estimate."""

from __future__ import annotations

from decimal import Decimal

import cloudcostguard
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord

EMPTY_PLAN = {"format_version": "1.2", "resource_changes": []}
# Synthetic prices (not AWS's): what the test computes its figures from.
CATALOG = InMemoryCatalog(
    [
        PriceRecord(
            "AWSDataTransfer",
            "eu-west-1",
            {
                "productFamily": "Data Transfer",
                "transferType": "IntraRegion",
                "usagetype": "EU-DataTransfer-Regional-Bytes",
            },
            "GB",
            Decimal("0.0125"),
        )
    ],
    source="test",
    version="test",
)


def _usage(entries: dict[str, dict[str, object]]) -> dict[str, object]:
    return {"version": "0.1", "resource_usage": entries}


def test_a_data_transfer_entry_is_priced_in_its_region_and_does_not_move_the_diff() -> None:
    usage = _usage({"aws_data_transfer.ireland": {"region": "eu-west-1", "monthly_intra_region_gb": 100}})
    estimate = cloudcostguard.estimate(EMPTY_PLAN, usage=usage, catalog=CATALOG)
    [resource] = estimate.resources
    assert (resource.address, resource.region, resource.action) == (
        "aws_data_transfer.ireland",
        "eu-west-1",
        "no-op",
    )
    [component] = resource.components
    assert component.name == "Intra-region data transfer"
    assert component.monthly_quantity == 200  # both sides of the transfer
    assert component.monthly_cost == Decimal("2.5")
    assert estimate.total_monthly_cost == Decimal("2.5")
    assert estimate.past_total_monthly_cost == Decimal("2.5")
    assert estimate.diff_total_monthly_cost == 0


def test_entries_of_other_types_and_wildcards_add_no_resource() -> None:
    usage = _usage(
        {
            "aws_instance.web": {"monthly_cpu_credit_hrs": 1},
            "aws_data_transfer.all[*]": {"region": "eu-west-1", "monthly_intra_region_gb": 1},
        }
    )
    estimate = cloudcostguard.estimate(EMPTY_PLAN, usage=usage, catalog=CATALOG)
    assert estimate.resources == []


def test_without_region_the_default_region_is_used_and_a_missing_price_is_reported() -> None:
    usage = _usage({"aws_data_transfer.default": {"monthly_outbound_other_regions_gb": 10}})
    estimate = cloudcostguard.estimate(EMPTY_PLAN, usage=usage, catalog=CATALOG)
    [resource] = estimate.resources
    assert resource.region == "us-east-1"
    [component] = resource.components
    assert component.name == "Outbound data transfer to other regions"
    assert component.price_not_found
    assert component.monthly_quantity == 10
