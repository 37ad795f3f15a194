"""aws_eip: an Elastic IP costs its idle-address rate while it is not attached, and nothing once attached.

"Free when attached" is the project's rule and what Infracost's goldens show. Since February 2024 AWS
also bills attached public IPv4 addresses (usage type ``PublicIPv4:InUseAddress``, same hourly rate);
that charge is deliberately not added here until the project decides to follow it.

Attached means the plan shows it on the address itself: ``instance``, ``network_interface`` or
``association_id`` known and set. A customer-owned (Outposts) address or one from a BYOIP pool is not
an Amazon public IPv4 address and is free as well. An address attached only through another
resource (``aws_eip_association``, a NAT gateway's or a load balancer's ``allocation_id``) cannot be
seen from its own attributes while both are being created: it is priced as idle.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

# Current offers list public IPv4 under AmazonVPC; older ones list the idle Elastic IP under AmazonEC2.
VPC_SERVICE = "AmazonVPC"
EC2_SERVICE = "AmazonEC2"
AMAZON_POOL = "amazon"


def is_attached(attrs: Attributes) -> bool:
    if any(attrs.text(name) for name in ("instance", "network_interface", "association_id")):
        return True
    if attrs.text("customer_owned_ipv4_pool"):
        return True
    pool = attrs.text("public_ipv4_pool")
    return pool is not None and pool != AMAZON_POOL


def idle_hourly_rate(price: Price | None) -> Decimal | None:
    """The rate of an idle hour. Old EC2 offers tier it (first hour free, then the rate): take the
    tier that applies from the second hour on, as Infracost does."""
    if price is None:
        return None
    applicable = [tier for tier in price.tiers if tier.start <= 1]
    return (applicable[-1] if applicable else price.tiers[0]).unit_price


@pricer("aws_eip")
def price_eip(ctx: PricingContext) -> list[CostComponent]:
    if is_attached(ctx.attrs):
        return []
    # The usage type alone identifies the product; its product family is spelled differently across
    # offer generations.
    price = ctx.catalog.lookup(
        VPC_SERVICE, ctx.region, usagetypeBase="PublicIPv4:IdleAddress"
    ) or ctx.catalog.lookup(EC2_SERVICE, ctx.region, usagetypeBase="ElasticIP:IdleAddress")
    return [at_unit_price("IP address (if unused)", "hours", ctx.hours_per_month, idle_hourly_rate(price))]
