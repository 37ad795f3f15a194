"""aws_cloudwatch_log_group: logs ingested, archived and scanned by Logs Insights; all usage-based.

Usage keys (Infracost's): ``monthly_data_ingested_gb``, ``storage_gb``, ``monthly_data_scanned_gb``.
"""

from __future__ import annotations

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonCloudWatch"


@pricer("aws_cloudwatch_log_group")
def price_cloudwatch_log_group(ctx: PricingContext) -> list[CostComponent]:
    usage = ctx.usage

    def line(name: str, key: str, product_family: str, group: str, usagetype: str) -> CostComponent:
        price = ctx.catalog.lookup(
            SERVICE, ctx.region, productFamily=product_family, group=group, usagetypeBase=usagetype
        )
        return priced(name, "GB", usage.decimal(key), price, usage_based=True)

    return [
        # Standard log class; the Infrequent Access class has its own ingestion usage type.
        line(
            "Data ingested",
            "monthly_data_ingested_gb",
            "Data Payload",
            "Ingested Logs",
            "DataProcessing-Bytes",
        ),
        line("Archival Storage", "storage_gb", "Storage Snapshot", "Archived Logs", "TimedStorage-ByteHrs"),
        line(
            "Insights queries data scanned",
            "monthly_data_scanned_gb",
            "Data Payload",
            "Logs Insights",
            "DataScanned-Bytes",
        ),
    ]
