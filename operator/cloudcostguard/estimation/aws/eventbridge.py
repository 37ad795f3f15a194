"""aws_cloudwatch_event_bus: EventBridge events, archive and schema discovery, all usage-based.

As Infracost's ``CloudwatchEventBus``: custom and third-party (partner) events are billed per 64 KB
chunk, schema discovery per 8 KB chunk; the usage counts events (Infracost does not split them into
chunks either).
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, INTEGER, MILLION, UsageBased, UsageKey
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AWSEvents"

table_pricer(
    "aws_cloudwatch_event_bus",
    service=SERVICE,
    shapes=(
        UsageBased(
            "Custom events published",
            "1M events",
            "monthly_custom_events",
            {
                "productFamily": "EventBridge",
                "eventType": "Custom Event",
                "usagetypeBase": "Event-64K-Chunks",
            },
            scale=MILLION,
        ),
        UsageBased(
            "Third-party events published",
            "1M events",
            "monthly_third_party_events",
            {
                "productFamily": "EventBridge",
                "eventType": "Partner Event",
                "usagetypeBase": "Event-64K-Chunks",
            },
            scale=MILLION,
        ),
        UsageBased(
            "Archive processing",
            "GB",
            "monthly_archive_processing_gb",
            {"productFamily": "CloudWatch Events", "usagetypeBase": "ArchivedEvents-Bytes"},
        ),
        UsageBased(
            "Archive storage",
            "GB",
            "archive_storage_gb",
            {"productFamily": "CloudWatch Events", "usagetypeBase": "TimedStorage-ByteHrs"},
        ),
        UsageBased(
            "Schema discovery",
            "1M events",
            "monthly_schema_discovery_events",
            {
                "productFamily": "EventBridge",
                "eventType": "Discovery Event",
                "usagetypeBase": "Event-8K-Chunks",
            },
            scale=MILLION,
        ),
    ),
    usage=(
        UsageKey("monthly_custom_events", INTEGER, "Monthly custom events published."),
        UsageKey("monthly_third_party_events", INTEGER, "Monthly third-party (partner) events published."),
        UsageKey("monthly_archive_processing_gb", FLOAT, "Monthly events archived (GB)."),
        UsageKey("archive_storage_gb", FLOAT, "Events kept in archives (GB)."),
        UsageKey("monthly_schema_discovery_events", INTEGER, "Monthly events ingested by schema discovery."),
    ),
)
