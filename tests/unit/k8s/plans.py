"""Terraform plans for the operator tests, and their expected prices from the bundled catalog.

Expected money is computed from the catalog's own unit prices (never hard-coded totals), so the tests
keep meaning the same thing when the bundled snapshot is refreshed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cloudcostguard.pricing.snapshot import load_bundled_catalog

HOURS_PER_MONTH = Decimal(730)
REGION = "us-east-1"


def nat_unit_price(usagetype: str, region: str = REGION) -> Decimal:
    price = load_bundled_catalog().lookup(
        "AmazonEC2", region, productFamily="NAT Gateway", usagetypeBase=usagetype
    )
    assert price is not None, f"bundled catalog has no NAT gateway {usagetype} price in {region}"
    return price.unit_price


def nat_monthly(gateways: int = 1, data_gb: Decimal = Decimal(0)) -> Decimal:
    """Expected monthly cost of ``gateways`` NAT gateways plus ``data_gb`` processed (one gateway)."""
    return gateways * HOURS_PER_MONTH * nat_unit_price("NatGateway-Hours") + data_gb * nat_unit_price(
        "NatGateway-Bytes"
    )


def money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def nat_plan(gateways: int = 1, *, vpcs: int = 1, format_version: str = "1.2") -> dict[str, Any]:
    """A plan creating ``gateways`` NAT gateways (priced) and ``vpcs`` VPCs (free) in us-east-1."""
    changes = []
    for index in range(gateways):
        changes.append(_change("aws_nat_gateway", f"egress{index}", {"connectivity_type": "public"}))
    for index in range(vpcs):
        changes.append(_change("aws_vpc", f"main{index}", {"cidr_block": f"10.{index}.0.0/16"}))
    return {
        "format_version": format_version,
        "terraform_version": "1.9.5",
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "expressions": {"region": {"constant_value": REGION}}}}
        },
    }


def _change(resource_type: str, name: str, after: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": f"{resource_type}.{name}",
        "mode": "managed",
        "type": resource_type,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": {"id": True}},
    }
