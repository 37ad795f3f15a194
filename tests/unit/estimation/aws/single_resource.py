"""Build one-resource plans and price them with the bundled snapshot (or a given catalog)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent, ResourceCost
from cloudcostguard.pricing.catalog import Price, PriceCatalog
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from tests import plans

BUNDLED = load_bundled_catalog()
HOURS = Decimal(730)
# An instance key of an address: [0], ["name"].
_INDEX = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]"]*)\]')


def plan_of(
    resources: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]],
    *,
    region: str = "us-east-1",
    actions: list[str] | None = None,
) -> dict[str, Any]:
    """A ``terraform show -json`` plan creating each (address, after, after_unknown)."""
    changes = [
        # The type and name are the address's last two parts (it may carry a module path).
        plans.change(
            address,
            actions or ["create"],
            resource_type=address.split(".")[-2],
            name=address.split(".")[-1].split("[")[0],
            after=after,
            after_unknown=unknown,
        )
        for address, after, unknown in resources
    ]
    return plans.plan(*changes, providers={"aws": plans.provider(region)})


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


def ref(*targets: str) -> dict[str, Any]:
    """A configuration expression referring to ``targets`` (``aws_eip.nat.id``), as Terraform writes
    it: each attribute reference followed by its resource."""
    references: list[str] = []
    for target in targets:
        references.append(target)
        if target.count(".") >= 2:
            references.append(target.rsplit(".", 1)[0])
    return {"references": references}


def linked_plan(
    resources: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None, dict[str, Any]]],
    *,
    region: str = "us-east-1",
    actions: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A plan creating each (address, after, after_unknown, configuration expressions), with the
    ``configuration`` section that records the expressions' references. Addresses may carry a module
    path and instance keys (``module.net["a"].aws_eip.nat[0]``); the instances of one configuration
    address share its expressions (the first given). ``actions`` overrides them per address."""
    plan = plan_of([(address, after, unknown) for address, after, unknown, _ in resources], region=region)
    root: dict[str, Any] = {"resources": [], "module_calls": {}}
    seen: set[str] = set()
    for change, (address, _, _, expressions) in zip(plan["resource_changes"], resources, strict=True):
        module_address, _, resource = address.rpartition(f".{change['type']}.")
        resource = f"{change['type']}.{resource}" if module_address else address
        if module_address:
            change["module_address"] = module_address
        if actions and address in actions:
            change["change"]["actions"] = actions[address]
        config_module = _INDEX.sub("", module_address)
        config_resource = _INDEX.sub("", resource)
        if f"{config_module}.{config_resource}" in seen:
            continue
        seen.add(f"{config_module}.{config_resource}")
        node = root
        for call in config_module.split(".")[1::2]:  # module.a.module.b → a, b
            call_node = node["module_calls"].setdefault(
                call, {"module": {"resources": [], "module_calls": {}}}
            )
            node = call_node["module"]
        node["resources"].append(
            {
                "address": config_resource,
                "mode": "managed",
                "type": change["type"],
                "name": change["name"],
                "provider_config_key": "aws",
                "expressions": expressions,
            }
        )
    plan["configuration"]["root_module"] = root
    return plan
