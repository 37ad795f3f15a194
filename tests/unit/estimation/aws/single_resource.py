"""Build one-resource plans and price them with the bundled snapshot (or a given catalog)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent, ResourceCost
from cloudcostguard.pricing.catalog import Price, PriceCatalog
from cloudcostguard.pricing.snapshot import load_bundled_catalog

BUNDLED = load_bundled_catalog()
HOURS = Decimal(730)


def plan_of(
    resources: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]],
    *,
    region: str = "us-east-1",
    actions: list[str] | None = None,
) -> dict[str, Any]:
    """A ``terraform show -json`` plan creating each (address, after, after_unknown)."""
    changes = []
    for address, after, unknown in resources:
        resource_type, name = address.split(".")[-2], address.split(".")[-1].split("[")[0]
        changes.append(
            {
                "address": address,
                "mode": "managed",
                "type": resource_type,
                "name": name,
                "change": {
                    "actions": actions or ["create"],
                    "before": None,
                    "after": after,
                    "after_unknown": unknown or {},
                },
            }
        )
    return {
        "format_version": "1.2",
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "expressions": {"region": {"constant_value": region}}}}
        },
    }


def price_resource(
    address: str,
    after: dict[str, Any] | None,
    *,
    unknown: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    region: str = "us-east-1",
    catalog: PriceCatalog | None = None,
    as_of: date | None = None,
) -> ResourceCost:
    estimate = cloudcostguard.estimate(
        plan_of([(address, after, unknown)], region=region),
        usage={"version": "0.1", "resource_usage": {address: usage}} if usage else None,
        catalog=catalog,
        as_of=as_of,
    )
    (resource,) = estimate.resources
    return resource


def component(resource: ResourceCost, name: str, subresource: str | None = None) -> CostComponent:
    matches = [c for c in resource.components if c.name == name and c.subresource == subresource]
    assert len(matches) == 1, (
        f"{name!r} ({subresource}) in {[(c.name, c.subresource) for c in resource.components]}"
    )
    return matches[0]


def names(resource: ResourceCost) -> list[tuple[str | None, str]]:
    return [(c.subresource, c.name) for c in resource.components]


def bundled_price(service: str, region: str = "us-east-1", **attributes: str) -> Price:
    price = BUNDLED.lookup(service, region, **attributes)
    assert price is not None, (service, region, attributes)
    return price


def ec2_price(region: str = "us-east-1", **attributes: str) -> Decimal:
    return bundled_price("AmazonEC2", region, **attributes).unit_price
