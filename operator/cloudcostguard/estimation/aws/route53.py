"""aws_route53_zone: the monthly hosted-zone charge."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonRoute53"
# Route 53 is a global service: its offer lists prices once, not per region.
GLOBAL_REGION = "global"


@pricer("aws_route53_zone")
def price_route53_zone(ctx: PricingContext) -> list[CostComponent]:
    # $0.50 for each of an account's first 25 zones, less beyond: one zone alone is in the first tier.
    price = ctx.catalog.lookup(SERVICE, GLOBAL_REGION, productFamily="DNS Zone", usagetypeBase="HostedZone")
    return [priced("Hosted zone", "months", Decimal(1), price)]
