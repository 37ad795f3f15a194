"""aws_cloudwatch_log_group: three usage-based lines, priced in the log group's region."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent

D = Decimal


def _components(region: str, usage: dict[str, Any] | None = None) -> dict[str, CostComponent]:
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "aws_cloudwatch_log_group.logs",
                "mode": "managed",
                "type": "aws_cloudwatch_log_group",
                "name": "logs",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"name": "logs", "retention_in_days": 30},
                    "after_unknown": {"log_group_class": True},
                },
            }
        ],
        "configuration": {
            "provider_config": {"aws": {"expressions": {"region": {"constant_value": region}}}}
        },
    }
    estimate = cloudcostguard.estimate(
        plan, usage={"aws_cloudwatch_log_group.logs": usage} if usage else None
    )
    [resource] = estimate.resources
    return {c.name: c for c in resource.components}


def test_ingestion_archive_and_insights_scans_are_priced_from_usage() -> None:
    components = _components(
        "us-east-1", {"monthly_data_ingested_gb": 20, "storage_gb": 300, "monthly_data_scanned_gb": 1000}
    )
    assert {name: c.monthly_cost for name, c in components.items()} == {
        "Data ingested": D("10.00"),
        "Archival Storage": D("9.00"),
        "Insights queries data scanned": D("5.000"),
    }


def test_other_regions_use_their_own_prices_without_usage_too() -> None:
    components = _components("eu-west-1")
    assert {name: c.price for name, c in components.items()} == {
        "Data ingested": D("0.57"),
        "Archival Storage": D("0.03"),
        "Insights queries data scanned": D("0.0057"),
    }
    assert all(c.usage_based and c.monthly_cost is None for c in components.values())
    assert all(c.price_not_found for c in _components("ap-south-2").values())
