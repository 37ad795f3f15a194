"""aws_nat_gateway: hourly charge plus data processed (usage ``monthly_data_processed_gb``)."""

from __future__ import annotations

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

SERVICE = "AmazonEC2"  # NAT gateways are sold under EC2's offer (product family "NAT Gateway")


@pricer("aws_nat_gateway")
def price_nat_gateway(ctx: PricingContext) -> list[CostComponent]:
    def nat_price(usagetype: str) -> Price | None:
        return ctx.catalog.lookup(SERVICE, ctx.region, productFamily="NAT Gateway", usagetypeBase=usagetype)

    return [
        priced("NAT gateway", "hours", ctx.hours_per_month, nat_price("NatGateway-Hours")),
        priced(
            "Data processed",
            "GB",
            ctx.usage.decimal("monthly_data_processed_gb"),
            nat_price("NatGateway-Bytes"),
            usage_based=True,
        ),
    ]
