"""aws_eip: idle addresses pay the idle-address rate, attached ones are free."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from tests.unit.estimation.aws.single_resource import bundled_price, names, plan_of, price_resource

IDLE_RATE = bundled_price("AmazonVPC", usagetypeBase="PublicIPv4:IdleAddress").unit_price
NEW_EIP_UNKNOWN = {
    "instance": True,
    "network_interface": True,
    "association_id": True,
    "public_ipv4_pool": True,
}


def test_a_new_address_with_nothing_attached_pays_the_idle_rate_all_month() -> None:
    eip = price_resource("aws_eip.spare", {"domain": "vpc"}, unknown=NEW_EIP_UNKNOWN)

    (idle,) = eip.components
    assert (idle.name, idle.unit, idle.monthly_quantity) == ("IP address (if unused)", "hours", 730)
    assert idle.monthly_cost == 730 * IDLE_RATE


@pytest.mark.parametrize(
    "attachment",
    [
        {"instance": "i-0123456789abcdef0"},
        {"network_interface": "eni-0123456789abcdef0"},
        {"association_id": "eipassoc-0123456789abcdef0"},
        {"customer_owned_ipv4_pool": "ipv4pool-coip-0123456789abcdef0"},
        {"public_ipv4_pool": "ipv4pool-ec2-0123456789abcdef0"},  # bring-your-own addresses
    ],
)
def test_an_attached_or_non_amazon_address_is_free(attachment: dict[str, str]) -> None:
    state: dict[str, Any] = {
        "domain": "vpc",
        "instance": "",
        "network_interface": "",
        "association_id": "",
        "public_ipv4_pool": "amazon",
        **attachment,
    }

    eip = price_resource("aws_eip.used", state)

    assert eip.components == [] and eip.monthly_cost == 0
    assert eip.support == "priced"


def test_an_existing_unattached_address_pays_the_idle_rate() -> None:
    state = {
        "domain": "vpc",
        "instance": "",
        "network_interface": "",
        "association_id": "",
        "public_ipv4_pool": "amazon",
    }

    assert price_resource("aws_eip.spare", state).monthly_cost == 730 * IDLE_RATE


def test_older_offers_idle_elastic_ip_is_priced_from_the_second_hour_tier() -> None:
    # The 2016-2019 AmazonEC2 offers tier the idle Elastic IP: the first hour free, then the rate.
    tiered = [
        PriceRecord(
            "AmazonEC2",
            "us-east-1",
            {"productFamily": "IP Address", "usagetype": "ElasticIP:IdleAddress"},
            "Hrs",
            rate,
            tier_start=start,
            tier_end=end,
        )
        for rate, start, end in ((Decimal(0), Decimal(0), Decimal(1)), (Decimal("0.005"), Decimal(1), None))
    ]
    catalog = InMemoryCatalog(tiered, source="test", version="1")

    eip = price_resource("aws_eip.spare", {"domain": "vpc"}, unknown=NEW_EIP_UNKNOWN, catalog=catalog)

    assert eip.components[0].price == Decimal("0.005")
    assert eip.monthly_cost == Decimal("3.650")


def test_an_address_with_no_price_in_the_region_is_reported() -> None:
    eip = price_resource("aws_eip.spare", {"domain": "vpc"}, unknown=NEW_EIP_UNKNOWN, region="sa-east-1")

    assert names(eip) == [(None, "IP address (if unused)")]
    assert eip.components[0].price_not_found


@pytest.mark.xfail(
    strict=True,
    reason="attachment through another resource (aws_eip_association, a NAT gateway's allocation_id) needs "
    "the plan's configuration references, which the estimator does not pass to pricers yet",
)
def test_an_address_attached_by_a_nat_gateway_in_the_same_plan_is_free() -> None:
    plan = plan_of(
        [
            ("aws_eip.nat", {"domain": "vpc"}, NEW_EIP_UNKNOWN),
            ("aws_nat_gateway.main", {"connectivity_type": "public"}, {"allocation_id": True}),
        ]
    )
    plan["configuration"]["root_module"] = {
        "resources": [
            {"address": "aws_eip.nat", "mode": "managed", "type": "aws_eip", "name": "nat",
             "provider_config_key": "aws", "expressions": {}},
            {"address": "aws_nat_gateway.main", "mode": "managed", "type": "aws_nat_gateway", "name": "main",
             "provider_config_key": "aws",
             "expressions": {"allocation_id": {"references": ["aws_eip.nat.id", "aws_eip.nat"]}}},
        ]
    }  # fmt: skip

    estimate = cloudcostguard.estimate(plan)

    assert estimate.resources[0].monthly_cost == 0
