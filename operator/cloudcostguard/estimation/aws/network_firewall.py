"""aws_networkfirewall_firewall: endpoint hours and data processed (usage ``monthly_data_processed_gb``).

AWSNetworkFirewall offer, product family "AWS Firewall"; usage types ``<region>-Endpoint-Hour`` and
``<region>-Traffic-GB-Processed`` (Infracost's filters). One endpoint, as Infracost prices it (a
firewall has one endpoint per subnet mapping; Infracost counts one).
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, Hourly, UsageBased, UsageKey
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AWSNetworkFirewall"

table_pricer(
    "aws_networkfirewall_firewall",
    service=SERVICE,
    shapes=(
        Hourly(
            "Network Firewall Endpoint", {"productFamily": "AWS Firewall", "usagetypeBase": "Endpoint-Hour"}
        ),
        UsageBased(
            "Data Processed",
            "GB",
            "monthly_data_processed_gb",
            {"productFamily": "AWS Firewall", "usagetypeBase": "Traffic-GB-Processed"},
        ),
    ),
    usage=(UsageKey("monthly_data_processed_gb", FLOAT, "Monthly data processed by the firewall (GB)."),),
)
