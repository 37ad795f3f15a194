"""aws_route53_zone: the monthly hosted-zone charge."""

from __future__ import annotations

from cloudcostguard.estimation.kit import Monthly
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AmazonRoute53"
# Route 53 is a global service: its offer lists prices once, not per region.
GLOBAL_REGION = "global"

# $0.50 for each of an account's first 25 zones, less beyond: one zone alone is in the first tier.
table_pricer(
    "aws_route53_zone",
    service=SERVICE,
    region=GLOBAL_REGION,
    shapes=(Monthly("Hosted zone", {"productFamily": "DNS Zone", "usagetypeBase": "HostedZone"}),),
)
