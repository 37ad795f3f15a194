"""Elastic Load Balancing: ``aws_lb``/``aws_alb`` (application, network, gateway) and ``aws_elb`` (classic).

Application and network load balancers pay an hourly rate plus capacity units. The capacity units
come from usage with Infracost's keys and formula, so its usage files give the same figures:
LCU-hours per month = the largest of ``new_connections`` / 100, ``active_connections`` / 3,000,
``processed_bytes_gb`` / 1 and, for application load balancers, ``rule_evaluations`` / 1,000. They are
shown per month ("LCU", the hourly price × hours per month), as Infracost shows them.

Classic load balancers pay an hourly rate plus data processed (usage ``monthly_data_processed_gb``).
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, Hourly, UsageBased, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer, table_pricer
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.pricing.catalog import Price

SERVICE = "AWSELB"

# load_balancer_type → (hourly component name, offer productFamily). Terraform's default is application.
LOAD_BALANCER_TYPES = {
    "application": ("Application load balancer", "Load Balancer-Application"),
    "network": ("Network load balancer", "Load Balancer-Network"),
    "gateway": ("Gateway load balancer", "Load Balancer-Gateway"),
}
DEFAULT_LOAD_BALANCER_TYPE = "application"

# Infracost's divisors: usage value per capacity unit-hour.
LCU_DIVISORS = [
    ("new_connections", Decimal(100)),
    ("active_connections", Decimal(3000)),
    ("processed_bytes_gb", Decimal(1)),
]
RULE_EVALUATIONS_DIVISOR = Decimal(1000)


def capacity_unit_hours(usage: ResourceUsage, *, application: bool) -> Decimal | None:
    """Monthly capacity unit-hours from usage, or None when usage says nothing about traffic."""
    divisors = (
        [*LCU_DIVISORS, ("rule_evaluations", RULE_EVALUATIONS_DIVISOR)] if application else LCU_DIVISORS
    )
    candidates = [value / divisor for key, divisor in divisors if (value := usage.decimal(key)) is not None]
    return max(candidates) if candidates else None


def capacity_units_component(
    unit_hours: Decimal | None, price: Price | None, hours_per_month: Decimal
) -> CostComponent:
    if price is None or unit_hours is None:
        return priced(
            "Load balancer capacity units",
            "LCU",
            None if unit_hours is None else unit_hours / hours_per_month,
            price,
            usage_based=True,
            unit_scale=hours_per_month,
        )
    # Cost from the unit-hours themselves, so the displayed monthly quantity's rounding never leaks in.
    return CostComponent(
        "Load balancer capacity units",
        "LCU",
        unit_hours / hours_per_month,
        price.unit_price * hours_per_month,
        price.cost_for(unit_hours),
        usage_based=True,
    )


_TRAFFIC_USAGE = (
    UsageKey("new_connections", FLOAT, "New connections per second (average)."),
    UsageKey("active_connections", FLOAT, "Active connections per minute (average)."),
    UsageKey("processed_bytes_gb", FLOAT, "Data processed per hour (GB, average)."),
)
LB_USAGE = (
    *_TRAFFIC_USAGE,
    UsageKey("rule_evaluations", FLOAT, "Rule evaluations per second (application load balancers)."),
)


@pricer("aws_lb", "aws_alb", usage=LB_USAGE)
def price_lb(ctx: PricingContext) -> list[CostComponent]:
    kind = (ctx.attrs.text("load_balancer_type") or DEFAULT_LOAD_BALANCER_TYPE).lower()
    name, product_family = LOAD_BALANCER_TYPES.get(kind, (f"Load balancer ({kind})", ""))
    hourly: Price | None = None
    capacity: Price | None = None
    if product_family:
        prices = ctx.prices(SERVICE)
        hourly = prices.lookup(productFamily=product_family, usagetypeBase="LoadBalancerUsage")
        capacity = prices.lookup(productFamily=product_family, usagetypeBase="LCUUsage")
    return [
        priced(name, "hours", ctx.hours_per_month, hourly),
        capacity_units_component(
            capacity_unit_hours(ctx.usage, application=kind == "application"), capacity, ctx.hours_per_month
        ),
    ]


table_pricer(
    "aws_elb",
    service=SERVICE,
    shapes=(
        Hourly(
            "Classic load balancer", {"productFamily": "Load Balancer", "usagetypeBase": "LoadBalancerUsage"}
        ),
        UsageBased(
            "Data processed",
            "GB",
            "monthly_data_processed_gb",
            {"productFamily": "Load Balancer", "usagetypeBase": "DataProcessing-Bytes"},
        ),
    ),
    usage=(UsageKey("monthly_data_processed_gb", FLOAT, "Monthly data processed (GB)."),),
)
