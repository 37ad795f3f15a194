"""aws_secretsmanager_secret: the monthly secret charge and API requests (usage ``monthly_requests``)."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.kit import INTEGER, Monthly, UsageBased, UsageKey
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AWSSecretsManager"

table_pricer(
    "aws_secretsmanager_secret",
    service=SERVICE,
    shapes=(
        Monthly("Secret", {"productFamily": "Secret"}),
        UsageBased(
            "API requests",
            "10k requests",
            "monthly_requests",
            {"productFamily": "API Request"},
            scale=Decimal(10_000),
        ),
    ),
    usage=(UsageKey("monthly_requests", INTEGER, "Monthly API requests to the secret."),),
)
