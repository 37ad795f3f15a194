"""aws_cloudwatch_log_group: logs ingested, archived and scanned by Logs Insights; all usage-based.

Usage keys (Infracost's): ``monthly_data_ingested_gb``, ``storage_gb``, ``monthly_data_scanned_gb``.
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, UsageBased, UsageKey
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AmazonCloudWatch"

table_pricer(
    "aws_cloudwatch_log_group",
    service=SERVICE,
    shapes=(
        # Standard log class; the Infrequent Access class has its own ingestion usage type.
        UsageBased(
            "Data ingested",
            "GB",
            "monthly_data_ingested_gb",
            {
                "productFamily": "Data Payload",
                "group": "Ingested Logs",
                "usagetypeBase": "DataProcessing-Bytes",
            },
        ),
        UsageBased(
            "Archival Storage",
            "GB",
            "storage_gb",
            {
                "productFamily": "Storage Snapshot",
                "group": "Archived Logs",
                "usagetypeBase": "TimedStorage-ByteHrs",
            },
        ),
        UsageBased(
            "Insights queries data scanned",
            "GB",
            "monthly_data_scanned_gb",
            {"productFamily": "Data Payload", "group": "Logs Insights", "usagetypeBase": "DataScanned-Bytes"},
        ),
    ),
    usage=(
        UsageKey("monthly_data_ingested_gb", FLOAT, "Monthly log data ingested (GB)."),
        UsageKey("storage_gb", FLOAT, "Log data archived (GB)."),
        UsageKey("monthly_data_scanned_gb", FLOAT, "Monthly data scanned by Logs Insights queries (GB)."),
    ),
)
