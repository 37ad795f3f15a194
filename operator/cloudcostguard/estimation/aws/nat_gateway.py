"""aws_nat_gateway: hourly charge plus data processed (usage ``monthly_data_processed_gb``)."""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, Hourly, UsageBased, UsageKey
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AmazonEC2"  # NAT gateways are sold under EC2's offer (product family "NAT Gateway")

table_pricer(
    "aws_nat_gateway",
    service=SERVICE,
    shapes=(
        Hourly("NAT gateway", {"productFamily": "NAT Gateway", "usagetypeBase": "NatGateway-Hours"}),
        UsageBased(
            "Data processed",
            "GB",
            "monthly_data_processed_gb",
            {"productFamily": "NAT Gateway", "usagetypeBase": "NatGateway-Bytes"},
        ),
    ),
    usage=(UsageKey("monthly_data_processed_gb", FLOAT, "Monthly data processed by the NAT gateway (GB)."),),
)
