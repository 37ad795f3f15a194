"""NAT-gateway plans with known costs, shared by the policy, admission and CLI tests and the benchmark.

One NAT gateway in us-east-1 costs 730 h × 0.045 USD = 32.85 USD a month in the bundled snapshot.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

NAT_MONTHLY = Decimal("32.85")
US_EAST_1 = {"region": {"constant_value": "us-east-1"}}


def nat_change(address: str, actions: list[str]) -> dict[str, Any]:
    after = {"connectivity_type": "public"} if actions != ["delete"] else None
    before = {"connectivity_type": "public"} if actions != ["create"] else None
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_nat_gateway",
        "name": address.rsplit(".", 1)[-1],
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }


def nat_plan(created: int, *, kept: int = 0, deleted: int = 0, prefix: str = "gw") -> dict[str, Any]:
    """A plan creating ``created`` NAT gateways, keeping ``kept`` and deleting ``deleted`` (us-east-1).

    Monthly cost = (created + kept) × 32.85; past = (kept + deleted) × 32.85.
    """
    changes = [nat_change(f"aws_nat_gateway.{prefix}_new_{i}", ["create"]) for i in range(created)]
    changes += [nat_change(f"aws_nat_gateway.{prefix}_kept_{i}", ["no-op"]) for i in range(kept)]
    changes += [nat_change(f"aws_nat_gateway.{prefix}_old_{i}", ["delete"]) for i in range(deleted)]
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "resource_changes": changes,
        "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": US_EAST_1}}},
    }
