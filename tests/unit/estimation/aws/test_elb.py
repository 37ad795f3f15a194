"""aws_lb / aws_alb (application, network, gateway) and aws_elb (classic)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.unit.estimation.aws.single_resource import HOURS, bundled_price, component, names, price_resource

CENT = Decimal("0.01")
CASES = Path(__file__).resolve().parents[3] / "fixtures" / "infracost"


def elb_price(product_family: str, usagetype: str) -> Decimal:
    return bundled_price("AWSELB", productFamily=product_family, usagetypeBase=usagetype).unit_price


ALB_HOUR = elb_price("Load Balancer-Application", "LoadBalancerUsage")
ALB_LCU = elb_price("Load Balancer-Application", "LCUUsage")
NLB_LCU = elb_price("Load Balancer-Network", "LCUUsage")


def test_an_application_load_balancer_without_usage_shows_the_monthly_lcu_price() -> None:
    alb = price_resource("aws_lb.web", {"load_balancer_type": "application"})

    hours = component(alb, "Application load balancer")
    assert hours.monthly_cost == 730 * ALB_HOUR
    lcu = component(alb, "Load balancer capacity units")
    assert (lcu.unit, lcu.monthly_quantity, lcu.monthly_cost) == ("LCU", None, None)
    assert lcu.usage_based and lcu.price == ALB_LCU * HOURS


def test_aws_alb_and_an_unset_type_are_application_load_balancers() -> None:
    for address, after in (("aws_alb.web", {}), ("aws_lb.web", {"load_balancer_type": None})):
        assert names(price_resource(address, after))[0] == (None, "Application load balancer")


def test_capacity_units_are_the_largest_dimension_of_the_usage() -> None:
    alb = price_resource(
        "aws_lb.web",
        {"load_balancer_type": "application"},
        usage={
            "new_connections": 10000,
            "active_connections": 1000,
            "processed_bytes_gb": 50,
            "rule_evaluations": 300,
        },
    )

    lcu = component(alb, "Load balancer capacity units")
    # new_connections / 100 = 100 LCU-hours is the largest dimension here.
    assert lcu.monthly_cost == 100 * ALB_LCU
    assert lcu.monthly_quantity == Decimal(100) / HOURS


def test_rule_evaluations_count_for_application_load_balancers_only() -> None:
    usage = {"rule_evaluations": 2_000_000}
    alb = price_resource("aws_lb.web", {"load_balancer_type": "application"}, usage=usage)
    nlb = price_resource("aws_lb.tcp", {"load_balancer_type": "network"}, usage=usage)

    assert component(alb, "Load balancer capacity units").monthly_cost == 2000 * ALB_LCU
    assert component(nlb, "Load balancer capacity units").monthly_cost is None


def test_network_load_balancer_capacity_units_use_the_nlcu_price() -> None:
    nlb = price_resource("aws_lb.tcp", {"load_balancer_type": "network"}, usage={"processed_bytes_gb": 200})

    assert component(nlb, "Network load balancer").monthly_cost == 730 * elb_price(
        "Load Balancer-Network", "LoadBalancerUsage"
    )
    assert component(nlb, "Load balancer capacity units").monthly_cost == 200 * NLB_LCU


def test_gateway_load_balancers_are_named_and_reported_without_a_sampled_price() -> None:
    gwlb = price_resource("aws_lb.inspect", {"load_balancer_type": "gateway"})

    assert component(gwlb, "Gateway load balancer").price_not_found


def test_classic_load_balancer_pays_hours_and_data_processed() -> None:
    classic = price_resource("aws_elb.old", {"listener": []}, usage={"monthly_data_processed_gb": 123.5})

    assert component(classic, "Classic load balancer").monthly_cost == 730 * elb_price(
        "Load Balancer", "LoadBalancerUsage"
    )
    data = component(classic, "Data processed")
    assert data.monthly_cost == Decimal("123.5") * elb_price("Load Balancer", "DataProcessing-Bytes")


def test_other_regions_are_priced_from_their_own_rows() -> None:
    nlb = price_resource("aws_lb.tcp", {"load_balancer_type": "network"}, region="eu-west-1")

    eu_hour = bundled_price(
        "AWSELB", "eu-west-1", productFamily="Load Balancer-Network", usagetypeBase="LoadBalancerUsage"
    ).unit_price
    assert component(nlb, "Network load balancer").monthly_cost == 730 * eu_hour
