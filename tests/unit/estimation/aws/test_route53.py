"""aws_route53_zone: one hosted-zone month, priced from the global offer whatever the region."""

from __future__ import annotations

from decimal import Decimal

import cloudcostguard

D = Decimal


def test_a_hosted_zone_costs_the_first_tier_monthly_price_in_any_region() -> None:
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        plan = {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "aws_route53_zone.z",
                    "mode": "managed",
                    "type": "aws_route53_zone",
                    "name": "z",
                    "change": {
                        "actions": ["create"],
                        "before": None,
                        "after": {"name": "example.com"},
                        "after_unknown": {"zone_id": True},
                    },
                }
            ],
            "configuration": {
                "provider_config": {"aws": {"expressions": {"region": {"constant_value": region}}}}
            },
        }
        [resource] = cloudcostguard.estimate(plan).resources
        [zone] = resource.components
        assert (zone.name, zone.unit, zone.monthly_quantity, zone.monthly_cost) == (
            "Hosted zone",
            "months",
            D(1),
            D("0.50"),
        )
