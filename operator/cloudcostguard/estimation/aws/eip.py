"""aws_eip: an Elastic IP costs its idle-address rate while it is not attached, and nothing once attached.

"Free when attached" is the project's rule and what Infracost's goldens show. Since February 2024 AWS
also bills attached public IPv4 addresses (usage type ``PublicIPv4:InUseAddress``, same hourly rate);
that charge is deliberately not added here until the project decides to follow it.

Attached means either of:

* the address itself shows it: ``instance``, ``network_interface`` or ``association_id`` known and
  set, or its ``instance``/``network_interface`` expression refers to another resource (unknown until
  both exist);
* another resource holds it through the plan's configuration references (Infracost's rule): a NAT
  gateway's or an ``aws_eip_association``'s ``allocation_id``, a load balancer's
  ``subnet_mapping.allocation_id``. Beyond Infracost, which lists ``aws_lb`` only, its alias
  ``aws_alb`` and a NAT gateway's ``secondary_allocation_ids`` attach as well: AWS holds the address
  there the same way. Where the holder's allocation IDs and this address's are both known, they must
  match (``aws_eip.nat[0]`` is referenced as ``aws_eip.nat``).

A customer-owned (Outposts) address or one from a BYOIP pool is not an Amazon public IPv4 address and
is free as well.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

# Current offers list public IPv4 under AmazonVPC; older ones list the idle Elastic IP under AmazonEC2.
VPC_SERVICE = "AmazonVPC"
EC2_SERVICE = "AmazonEC2"
AMAZON_POOL = "amazon"

# (type, attribute path) of the expressions that attach an address by referring to it.
HOLDERS: tuple[tuple[str, str], ...] = (
    ("aws_nat_gateway", "allocation_id"),
    ("aws_nat_gateway", "secondary_allocation_ids"),
    ("aws_eip_association", "allocation_id"),
    ("aws_lb", "subnet_mapping.allocation_id"),
    ("aws_alb", "subnet_mapping.allocation_id"),
)
# The address's own expressions that attach it to a resource created in the same plan.
OWN_ATTACHMENTS = ("instance", "network_interface")


def is_attached(attrs: Attributes) -> bool:
    if any(attrs.text(name) for name in ("instance", "network_interface", "association_id")):
        return True
    if attrs.text("customer_owned_ipv4_pool"):
        return True
    pool = attrs.text("public_ipv4_pool")
    return pool is not None and pool != AMAZON_POOL


def is_attached_by_reference(ctx: PricingContext) -> bool:
    """Attached through the configuration: the address refers to an instance or interface, or a
    holder (``HOLDERS``) refers to it."""
    if ctx.references is None:
        return False
    if any(ctx.references.referenced_from(ctx.config_address, name) for name in OWN_ATTACHMENTS):
        return True
    own_id = ctx.attrs.text("allocation_id") or ctx.attrs.text("id")
    for holder in linked.referrers(ctx, *HOLDERS):
        if own_id is None:
            return True
        # Known allocation IDs that name other addresses mean another instance of this resource is
        # held (the reference does not say which one); an unknown one counts as holding this one.
        held = linked.known_values(holder)
        if held is None or own_id in held:
            return True
    return False


def idle_hourly_rate(price: Price | None) -> Decimal | None:
    """The rate of an idle hour. Old EC2 offers tier it (first hour free, then the rate): take the
    tier that applies from the second hour on, as Infracost does."""
    if price is None:
        return None
    applicable = [tier for tier in price.tiers if tier.start <= 1]
    return (applicable[-1] if applicable else price.tiers[0]).unit_price


@pricer("aws_eip")
def price_eip(ctx: PricingContext) -> list[CostComponent]:
    if is_attached(ctx.attrs) or is_attached_by_reference(ctx):
        return []
    # The usage type alone identifies the product; its product family is spelled differently across
    # offer generations.
    price = ctx.catalog.lookup(
        VPC_SERVICE, ctx.region, usagetypeBase="PublicIPv4:IdleAddress"
    ) or ctx.catalog.lookup(EC2_SERVICE, ctx.region, usagetypeBase="ElasticIP:IdleAddress")
    return [at_unit_price("IP address (if unused)", "hours", ctx.hours_per_month, idle_hourly_rate(price))]
