"""Terraform plan documents for tests, in one place: resource changes, provider configuration, whole plans,
and the NAT-gateway plans most operator, admission, policy and CLI tests price.

Expected money is computed from the bundled catalog's own unit prices (never typed by hand), so the tests
keep meaning the same thing when the bundled snapshot is refreshed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cloudcostguard.pricing.snapshot import load_bundled_catalog

HOURS_PER_MONTH = Decimal(730)
REGION = "us-east-1"


def change(
    address: str,
    actions: list[str],
    *,
    resource_type: str | None = None,
    name: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    after_unknown: dict[str, Any] | None = None,
    mode: str = "managed",
    module_address: str | None = None,
    index: Any = None,
) -> dict[str, Any]:
    """One ``resource_changes`` entry; type and name are read off the address like Terraform writes them."""
    local = address
    if module_address is not None:
        assert address.startswith(module_address + "."), (address, module_address)
        local = address[len(module_address) + 1 :]
    if local.startswith("data."):
        local = local[len("data.") :]
    type_name, _, rest = local.partition(".")
    item: dict[str, Any] = {
        "address": address,
        "mode": mode,
        "type": resource_type or type_name,
        "name": name or rest.split("[", 1)[0],
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown or {},
        },
    }
    if module_address is not None:
        item["module_address"] = module_address
    if index is not None:
        item["index"] = index
    return item


def provider(region: str | None = None, *, reference: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``provider_config`` entry with a constant region or a region taken from a variable."""
    entry: dict[str, Any] = {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws", **extra}
    if region is not None:
        entry["expressions"] = {"region": {"constant_value": region}}
    elif reference is not None:
        entry["expressions"] = {"region": {"references": [reference]}}
    return entry


def plan(
    *changes: dict[str, Any],
    providers: dict[str, Any] | None = None,
    root_module: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    format_version: str = "1.2",
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format_version": format_version,
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {}},
        "resource_changes": list(changes),
        "configuration": {
            "provider_config": providers if providers is not None else {"aws": provider("us-east-1")},
            "root_module": root_module or {},
        },
    }
    if variables is not None:
        document["variables"] = variables
    return document


def config_resource(address: str, provider_config_key: str) -> dict[str, Any]:
    type_name, _, name = address.partition(".")
    return {
        "address": address,
        "mode": "managed",
        "type": type_name,
        "name": name,
        "provider_config_key": provider_config_key,
    }


# --- NAT gateways: one priced resource type with known prices --------------------------------------


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


# One NAT gateway in us-east-1 for a month, as status and messages show it (32.85 USD in the snapshot).
NAT_MONTHLY = Decimal(money(nat_monthly(1)))


def nat_plan(
    created: int = 1,
    *,
    kept: int = 0,
    deleted: int = 0,
    vpcs: int = 0,
    prefix: str = "gw",
    format_version: str = "1.2",
) -> dict[str, Any]:
    """A plan in us-east-1 creating ``created`` NAT gateways (``aws_nat_gateway.<prefix>_new_<i>``),
    keeping ``kept`` and deleting ``deleted``, and creating ``vpcs`` VPCs (free, ``aws_vpc.main<i>``).

    Monthly cost = (created + kept) × ``NAT_MONTHLY``; past = (kept + deleted) × ``NAT_MONTHLY``.
    """
    gateway = {"connectivity_type": "public"}
    changes = [change(f"aws_nat_gateway.{prefix}_new_{i}", ["create"], after=gateway) for i in range(created)]
    changes += [
        change(f"aws_nat_gateway.{prefix}_kept_{i}", ["no-op"], before=gateway, after=gateway)
        for i in range(kept)
    ]
    changes += [
        change(f"aws_nat_gateway.{prefix}_old_{i}", ["delete"], before=gateway) for i in range(deleted)
    ]
    changes += [
        change(f"aws_vpc.main{i}", ["create"], after={"cidr_block": f"10.{i}.0.0/16"}) for i in range(vpcs)
    ]
    return plan(*changes, format_version=format_version)
