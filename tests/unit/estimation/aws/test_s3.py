"""aws_s3_bucket beyond the golden: storage tiers, request units, which storage classes show up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import Price
from cloudcostguard.pricing.snapshot import load_bundled_catalog

D = Decimal
SNAPSHOT = load_bundled_catalog()


def _components(
    after: dict[str, Any] | None = None,
    *,
    usage: dict[str, Any] | None = None,
    unknown: dict[str, Any] | None = None,
) -> dict[str, CostComponent]:
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "aws_s3_bucket.b",
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "b",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": after or {"bucket": "b"},
                    "after_unknown": unknown
                    if unknown is not None
                    else {"lifecycle_rule": True, "region": True},
                },
            }
        ],
        "configuration": {
            "provider_config": {"aws": {"expressions": {"region": {"constant_value": "us-east-1"}}}}
        },
    }
    estimate = cloudcostguard.estimate(plan, usage={"aws_s3_bucket.b": usage} if usage else None)
    [resource] = estimate.resources
    return {f"{c.subresource} › {c.name}": c for c in resource.components}


def _standard_storage() -> Price:
    price = SNAPSHOT.lookup(
        "AmazonS3",
        "us-east-1",
        productFamily="Storage",
        volumeType="Standard",
        usagetypeBase="TimedStorage-ByteHrs",
    )
    assert price is not None
    return price


def test_standard_storage_walks_the_volume_tiers_past_50_tb_and_500_tb() -> None:
    first, second, third = _standard_storage().tiers
    assert (first.end, second.end, third.end) == (D(51200), D(512000), None)
    below = _components(usage={"standard": {"storage_gb": 51200}})["Standard › Storage"]
    assert below.monthly_cost == D(51200) * first.unit_price == D("1177.600")
    across = _components(usage={"standard": {"storage_gb": 60000}})["Standard › Storage"]
    assert across.monthly_cost == D(51200) * first.unit_price + D(8800) * second.unit_price
    assert across.monthly_cost == D("1371.200")
    beyond = _components(usage={"standard": {"storage_gb": 600000}})["Standard › Storage"]
    assert beyond.monthly_cost == (
        D(51200) * first.unit_price + D(460800) * second.unit_price + D(88000) * third.unit_price
    )
    # The displayed unit price is the first tier's, as AWS and Infracost quote it.
    assert beyond.price == first.unit_price


def test_requests_are_shown_per_thousand_at_the_per_request_price() -> None:
    components = _components(
        usage={"standard": {"monthly_tier_1_requests": 2_500_000, "monthly_tier_2_requests": 4000}}
    )
    put = components["Standard › PUT, COPY, POST, LIST requests"]
    assert (put.unit, put.monthly_quantity, put.price) == ("1k requests", D(2500), D("0.005000"))
    assert put.monthly_cost == D("12.500000")
    get = components["Standard › GET, SELECT, and all other requests"]
    assert get.monthly_cost == D(4000) * D("0.0000004")


def test_without_usage_only_standard_is_shown_and_every_line_depends_on_usage() -> None:
    components = _components()
    assert {name.split(" › ")[0] for name in components} == {"Standard"}
    assert all(c.usage_based and c.monthly_cost is None for c in components.values())
    assert components["Standard › Storage"].price == D("0.023")


def test_lifecycle_transitions_and_usage_bring_in_their_storage_classes() -> None:
    after = {
        "bucket": "b",
        "lifecycle_rule": [
            {"enabled": True, "transition": [{"days": 30, "storage_class": "STANDARD_IA"}]},
            {"enabled": False, "transition": [{"days": 90, "storage_class": "GLACIER"}]},
            {
                "enabled": True,
                "noncurrent_version_transition": [{"days": 180, "storage_class": "DEEP_ARCHIVE"}],
            },
        ],
    }
    components = _components(after, unknown={}, usage={"one_zone_infrequent_access": {"storage_gb": 100}})
    classes = {name.split(" › ")[0] for name in components}
    assert classes == {
        "Standard",
        "Standard - infrequent access",
        "One zone - infrequent access",
        "Glacier deep archive",
    }
    assert components["One zone - infrequent access › Storage"].monthly_cost == D(100) * D("0.01")


def test_archive_classes_use_their_own_offers_and_ia_retrievals_accept_either_key_name() -> None:
    components = _components(
        usage={
            "glacier_deep_archive": {"storage_gb": 1000},
            "glacier_flexible_retrieval": {"storage_gb": 1000},
            "standard_infrequent_access": {"storage_gb": 1000, "monthly_retrieval_gb": 200},
        }
    )
    assert components["Glacier deep archive › Storage"].monthly_cost == D("0.99000")
    assert components["Glacier flexible retrieval › Storage"].monthly_cost == D("3.6000")
    assert components["Standard - infrequent access › Retrievals"].monthly_cost == D("2.00")


def test_a_negative_usage_quantity_is_a_usage_error() -> None:
    with pytest.raises(errors.UsageError):
        _components(usage={"standard": {"storage_gb": -5}})
