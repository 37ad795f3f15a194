"""aws_vpc_endpoint: interface and Gateway Load Balancer endpoints (AmazonVPC offer, "VpcEndpoint").

Interface endpoints pay an hour per endpoint network interface, one per subnet (``subnet_ids``; when
the list is unknown at plan time, the subnets it refers to; one when none), and data processed (usage
``monthly_data_processed_gb``) in Infracost's buckets: first 1PB (1,000,000 GB), next 4PB, over 5PB,
priced at the offer's tiers starting at 0, 1,048,576 and 5,242,880 GB. Gateway Load Balancer
endpoints pay one endpoint hour and data processed at one rate. Gateway endpoints (the default type,
S3 and DynamoDB) are free: no components, as Infracost.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines
from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonVPC"

_INTERFACE_HOURS = {"productFamily": "VpcEndpoint", "usagetypeBase": "VpcEndpoint-Hours"}
_INTERFACE_BYTES = {"productFamily": "VpcEndpoint", "usagetypeBase": "VpcEndpoint-Bytes"}
_GWLB_HOURS = {"productFamily": "VpcEndpoint", "usagetypeBase": "VpcEndpoint-GWLBE-Hours"}
_GWLB_BYTES = {"productFamily": "VpcEndpoint", "usagetypeBase": "VpcEndpoint-GWLBE-Bytes"}
_INTERFACE_BUCKETS = Buckets(
    ("Data processed (first 1PB)", "Data processed (next 4PB)", "Data processed (over 5PB)"),
    (Decimal(1_000_000), Decimal(4_000_000)),
    (Decimal(0), Decimal(1_048_576), Decimal(5_242_880)),
)
USAGE = (UsageKey("monthly_data_processed_gb", FLOAT, "Monthly data processed by the endpoint (GB)."),)


@pricer("aws_vpc_endpoint", usage=USAGE)
def price_vpc_endpoint(ctx: PricingContext) -> list[CostComponent]:
    endpoint_type = ctx.attrs.text("vpc_endpoint_type") or "Gateway"
    kind = endpoint_type.lower()
    prices = ctx.prices(SERVICE)
    data_gb = ctx.usage.decimal("monthly_data_processed_gb")
    if kind == "interface":
        return [
            *bucket_lines(_INTERFACE_BUCKETS, "GB", data_gb, prices.find(_INTERFACE_BYTES)),
            prices.hourly(f"Endpoint ({endpoint_type})", _INTERFACE_HOURS, count=_interfaces(ctx)),
        ]
    if kind == "gatewayloadbalancer":
        return [
            prices.usage("Data processed", "GB", data_gb, _GWLB_BYTES),
            prices.hourly(f"Endpoint ({endpoint_type})", _GWLB_HOURS),
        ]
    return []


def _interfaces(ctx: PricingContext) -> Decimal:
    subnets = len(ctx.attrs.items("subnet_ids"))
    if not subnets and ctx.references is not None:
        targets = {r.target for r in ctx.references.referenced_from(ctx.config_address, "subnet_ids")}
        subnets = len(targets)
    return Decimal(max(subnets, 1))
