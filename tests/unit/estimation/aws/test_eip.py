"""aws_eip: idle addresses pay the idle-address rate, attached ones (themselves or through another
resource of the plan) are free."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from tests.unit.estimation.aws.single_resource import (
    bundled_price,
    linked_plan,
    names,
    plan_of,
    price_resource,
    ref,
)

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


# --- attached through another resource: the plan's configuration references --------------------------

NAT_UNKNOWN = {"allocation_id": True, "id": True, "secondary_allocation_ids": True}
EIP_STATE = {  # an existing address, not attached: what the state shows
    "domain": "vpc",
    "instance": "",
    "network_interface": "",
    "association_id": "",
    "public_ipv4_pool": "amazon",
}


def eip_cost(plan: dict[str, Any], address: str) -> Decimal:
    (eip,) = [r for r in cloudcostguard.estimate(plan).resources if r.address == address]
    return eip.monthly_cost


@pytest.mark.parametrize(
    ("holder", "after", "unknown", "expressions"),
    [
        (
            "aws_nat_gateway.main",
            {"connectivity_type": "public"},
            NAT_UNKNOWN,
            {"allocation_id": ref("aws_eip.ip.id")},
        ),
        (
            "aws_nat_gateway.main",
            {"connectivity_type": "public", "allocation_id": "eipalloc-0aaaaaaaaaaaaaaa0"},
            {"secondary_allocation_ids": True},
            {
                "allocation_id": {"constant_value": "eipalloc-0aaaaaaaaaaaaaaa0"},
                "secondary_allocation_ids": ref("aws_eip.ip.id"),
            },
        ),
        (
            "aws_eip_association.web",
            {},
            {"allocation_id": True, "instance_id": True},
            {"allocation_id": ref("aws_eip.ip.id"), "instance_id": ref("aws_instance.web.id")},
        ),
        (
            "aws_lb.public",
            {"load_balancer_type": "network", "subnet_mapping": [{"subnet_id": "subnet-1"}]},
            {"subnet_mapping": [{"allocation_id": True}]},
            {
                "subnet_mapping": [
                    {"subnet_id": {"constant_value": "subnet-1"}, "allocation_id": ref("aws_eip.ip.id")}
                ]
            },
        ),
        (
            "aws_alb.public",
            {"load_balancer_type": "network", "subnet_mapping": [{"subnet_id": "subnet-1"}]},
            {"subnet_mapping": [{"allocation_id": True}]},
            {
                "subnet_mapping": [
                    {"subnet_id": {"constant_value": "subnet-1"}, "allocation_id": ref("aws_eip.ip.id")}
                ]
            },
        ),
    ],
)
def test_an_address_held_by_a_resource_created_with_it_is_free(
    holder: str, after: dict[str, Any], unknown: dict[str, Any], expressions: dict[str, Any]
) -> None:
    plan = linked_plan(
        [("aws_eip.ip", {"domain": "vpc"}, NEW_EIP_UNKNOWN, {}), (holder, after, unknown, expressions)]
    )

    assert eip_cost(plan, "aws_eip.ip") == 0


def test_an_address_given_to_an_instance_in_its_own_expression_is_free() -> None:
    plan = linked_plan(
        [
            ("aws_instance.web", {"instance_type": "t3.micro"}, {"id": True}, {}),
            ("aws_eip.ip", {"domain": "vpc"}, NEW_EIP_UNKNOWN, {"instance": ref("aws_instance.web.id")}),
        ]
    )

    assert eip_cost(plan, "aws_eip.ip") == 0


def test_an_address_only_read_by_other_resources_stays_idle() -> None:
    # A DNS record naming the address's public IP does not attach it to anything.
    plan = linked_plan(
        [
            ("aws_eip.ip", {"domain": "vpc"}, NEW_EIP_UNKNOWN, {}),
            (
                "aws_route53_record.ip",
                {"type": "A"},
                {"records": True},
                {"records": ref("aws_eip.ip.public_ip")},
            ),
        ]
    )

    assert eip_cost(plan, "aws_eip.ip") == 730 * IDLE_RATE


def test_a_holder_in_the_configuration_but_not_in_the_plan_attaches_nothing() -> None:
    # count = 0, or a plan cut short with -target: no gateway instance exists to hold the address.
    plan = linked_plan([("aws_eip.ip", {"domain": "vpc"}, NEW_EIP_UNKNOWN, {})])
    plan["configuration"]["root_module"]["resources"].append(
        {
            "address": "aws_nat_gateway.main",
            "mode": "managed",
            "type": "aws_nat_gateway",
            "name": "main",
            "expressions": {"allocation_id": ref("aws_eip.ip.id")},
        }
    )

    assert eip_cost(plan, "aws_eip.ip") == 730 * IDLE_RATE


def test_a_holder_being_deleted_attaches_nothing() -> None:
    plan = linked_plan(
        [
            ("aws_eip.ip", {"domain": "vpc"}, NEW_EIP_UNKNOWN, {}),
            ("aws_nat_gateway.main", None, None, {"allocation_id": ref("aws_eip.ip.id")}),
        ],
        actions={"aws_nat_gateway.main": ["delete"]},
    )
    plan["resource_changes"][1]["change"]["before"] = {"allocation_id": "eipalloc-0aaaaaaaaaaaaaaa0"}

    assert eip_cost(plan, "aws_eip.ip") == 730 * IDLE_RATE


def test_counted_addresses_are_held_by_the_gateway_with_the_same_index() -> None:
    # allocation_id = aws_eip.nat[count.index].id, with one gateway for two addresses.
    plan = linked_plan(
        [
            ("aws_eip.nat[0]", {"domain": "vpc"}, NEW_EIP_UNKNOWN, {}),
            ("aws_eip.nat[1]", {"domain": "vpc"}, NEW_EIP_UNKNOWN, {}),
            (
                "aws_nat_gateway.main[0]",
                {"connectivity_type": "public"},
                NAT_UNKNOWN,
                {"allocation_id": ref("aws_eip.nat.id")},
            ),
        ]
    )

    assert eip_cost(plan, "aws_eip.nat[0]") == 0
    assert eip_cost(plan, "aws_eip.nat[1]") == 730 * IDLE_RATE


def test_known_allocation_ids_tell_which_existing_address_a_new_gateway_holds() -> None:
    # allocation_id = aws_eip.nat[0].id: the addresses exist, so the gateway's value is known.
    plan = linked_plan(
        [
            ("aws_eip.nat[0]", {**EIP_STATE, "allocation_id": "eipalloc-00000000000000000"}, None, {}),
            ("aws_eip.nat[1]", {**EIP_STATE, "allocation_id": "eipalloc-11111111111111111"}, None, {}),
            (
                "aws_nat_gateway.main",
                {"connectivity_type": "public", "allocation_id": "eipalloc-00000000000000000"},
                {"id": True},
                {"allocation_id": ref("aws_eip.nat.id")},
            ),
        ],
        actions={"aws_eip.nat[0]": ["no-op"], "aws_eip.nat[1]": ["no-op"]},
    )

    assert eip_cost(plan, "aws_eip.nat[0]") == 0
    assert eip_cost(plan, "aws_eip.nat[1]") == 730 * IDLE_RATE


def test_a_gateway_holds_the_address_of_its_own_module_instance_only() -> None:
    # module "net" (for_each a, b) creates an address and count = var.public ? 1 : 0 gateways.
    plan = linked_plan(
        [
            ('module.net["a"].aws_eip.nat', {"domain": "vpc"}, NEW_EIP_UNKNOWN, {}),
            (
                'module.net["a"].aws_nat_gateway.main[0]',
                {"connectivity_type": "public"},
                NAT_UNKNOWN,
                {"allocation_id": ref("aws_eip.nat.id")},
            ),
            ('module.net["b"].aws_eip.nat', {"domain": "vpc"}, NEW_EIP_UNKNOWN, {}),
        ]
    )

    assert eip_cost(plan, 'module.net["a"].aws_eip.nat') == 0
    assert eip_cost(plan, 'module.net["b"].aws_eip.nat') == 730 * IDLE_RATE


def test_without_configuration_an_address_attached_elsewhere_is_priced_idle() -> None:
    # Plans written without the configuration section (older tools) cannot show the holder.
    plan = plan_of(
        [
            ("aws_eip.ip", {"domain": "vpc"}, NEW_EIP_UNKNOWN),
            ("aws_nat_gateway.main", {"connectivity_type": "public"}, NAT_UNKNOWN),
        ]
    )
    del plan["configuration"]

    assert eip_cost(plan, "aws_eip.ip") == 730 * IDLE_RATE
