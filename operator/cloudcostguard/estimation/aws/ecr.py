"""aws_ecr_repository: image storage (usage ``storage_gb``), as Infracost's ``ECRRepository``."""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, UsageBased, UsageKey
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AmazonECR"

table_pricer(
    "aws_ecr_repository",
    service=SERVICE,
    shapes=(
        UsageBased(
            "Storage",
            "GB",
            "storage_gb",
            {"productFamily": "EC2 Container Registry", "usagetypeBase": "TimedStorage-ByteHrs"},
        ),
    ),
    usage=(UsageKey("storage_gb", FLOAT, "Images stored in the repository (GB)."),),
)
