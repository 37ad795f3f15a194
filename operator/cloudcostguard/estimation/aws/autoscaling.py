"""aws_autoscaling_group: the instances it runs, priced from its launch configuration or template.

As Infracost prices it (``internal/providers/terraform/aws/autoscaling_group.go``):

* **How many.** Usage ``instances``, else ``desired_capacity`` (an explicit 0 runs none), else
  ``min_size``, and 1 when that is 0 too (an unset desired capacity is unknown in a plan).
* **What.** The launch configuration (``launch_configuration = aws_launch_configuration.x.id | .name``),
  else the launch template (``launch_template { id | name }``), else the mixed instances policy's
  template (``mixed_instances_policy.launch_template.launch_template_specification.launch_template_id``),
  read through the plan's references. Everything is shown under a sub-resource named after the
  configuration or template, block devices one level deeper.
* **Launch configurations**: instance type, ``placement_tenancy``, ``ebs_optimized``,
  ``enable_monitoring`` (default true: 7 metrics per instance), CPU credits, a ``spot_price`` makes
  spot instances; the root volume (8 GB gp2 unless set) and each ``ebs_block_device``.
* **Launch templates**: as for ``aws_eks_node_group`` (``compute.py``): type, tenancy, EBS optimization,
  ``monitoring.enabled`` (default false), credits, each EBS ``block_device_mappings`` entry; no root
  volume (it comes from the AMI). A spot market makes every instance spot.
* **Mixed instances policy**: the first ``override``'s instance type, with the capacity divided by its
  ``weighted_capacity`` (rounded up); ``instances_distribution``'s ``on_demand_base_capacity`` and
  ``on_demand_percentage_above_base_capacity`` (rounded up) split the instances into on-demand and
  spot lines.

Spot and reserved instances are named as such and have no price in the on-demand catalog; instances
on Dedicated Hosts (tenancy ``host``) have no compute line (Infracost skips such groups; the disks are
still billed here). A group whose configuration or template the plan does not hold shows an instance
line of type "unknown" without a price, never a silent $0. ``aws_launch_configuration`` and
``aws_launch_template`` are free: what they describe is priced here.

Usage keys: ``instances`` and the instance keys (``compute.INSTANCE_USAGE``).
"""

from __future__ import annotations

import math
from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import compute, linked
from cloudcostguard.estimation.kit import FLOAT, Prices, UsageKey
from cloudcostguard.estimation.model import SUBRESOURCE_SEPARATOR, CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

USAGE = (
    UsageKey("instances", FLOAT, "Number of instances (default: desired_capacity, else min_size, else 1)."),
    *compute.INSTANCE_USAGE,
)
MIXED_TEMPLATE_PATH = (
    "mixed_instances_policy.launch_template.launch_template_specification.launch_template_id"
)
MIXED_TEMPLATE_NAME_PATH = (
    "mixed_instances_policy.launch_template.launch_template_specification.launch_template_name"
)
HUNDRED = Decimal(100)
ZERO = Decimal(0)


@pricer("aws_autoscaling_group", usage=USAGE)
def price_autoscaling_group(ctx: PricingContext) -> list[CostComponent]:
    count = instance_count(ctx)
    prices = ctx.prices(compute.SERVICE)
    configurations = linked.referred(ctx, "launch_configuration", "aws_launch_configuration")
    if configurations:
        return _configuration_instances(ctx, prices, configurations[0], count)
    template = compute.launch_template(ctx)
    if template is not None:
        spot = template.attrs.block("instance_market_options").text("market_type") == "spot"
        return compute.template_instances(
            ctx,
            prices,
            template,
            instance_type=template.attrs.text("instance_type"),
            os=compute.operating_system(ctx.usage, ctx.address),
            count=count,
            on_demand=ZERO if spot else count,
        )
    policy = ctx.attrs.block("mixed_instances_policy")
    if policy:
        for path in (MIXED_TEMPLATE_PATH, MIXED_TEMPLATE_NAME_PATH):
            mixed = linked.referred(ctx, path, "aws_launch_template")
            if mixed:
                return _mixed_instances(ctx, prices, mixed[0], count, policy)
    # Launched from something the plan does not hold (a data source, another configuration).
    return [
        compute.instance_usage_component(
            prices,
            instance_type=None,
            os=compute.operating_system(ctx.usage, ctx.address),
            purchase=compute.purchase_label(ctx.usage, ctx.address),
            tenancy="Shared",
            hours=ctx.hours_per_month * count,
        )
    ]


def instance_count(ctx: PricingContext) -> Decimal:
    """Usage ``instances``, else ``desired_capacity``, else ``min_size``, else 1 (Infracost's rule)."""
    for candidate in (ctx.usage.decimal("instances"), ctx.attrs.decimal("desired_capacity")):
        if candidate is not None and candidate >= 0:
            return candidate
    minimum = ctx.attrs.decimal("min_size")
    return minimum if minimum is not None and minimum > 0 else Decimal(1)


def _configuration_instances(
    ctx: PricingContext, prices: Prices, configuration: linked.Linked, count: Decimal
) -> list[CostComponent]:
    lc, where = configuration.attrs, configuration.address
    spot = lc.text("spot_price") is not None
    components = compute.instance_components(
        ctx,
        prices,
        instance_type=lc.text("instance_type"),
        os=compute.operating_system(ctx.usage, ctx.address),
        purchase=compute.purchase_label(ctx.usage, ctx.address, "spot" if spot else "on-demand"),
        tenancy=compute.offer_tenancy(lc.text("placement_tenancy")),
        hours=ctx.hours_per_month * count,
        count=count,
        ebs_optimized=lc.flag("ebs_optimized") is True,
        monitoring=lc.flag("enable_monitoring", True) is True,
        cpu_credits=lc.block("credit_specification").text("cpu_credits"),
        subresource=where,
    )
    devices: list[tuple[str, Attributes]] = [("root_block_device", lc.block("root_block_device"))]
    devices += [(f"ebs_block_device[{i}]", d) for i, d in enumerate(lc.blocks("ebs_block_device"))]
    for name, device in devices:
        components.extend(
            compute.block_device_components(prices, device, f"{where}{SUBRESOURCE_SEPARATOR}{name}", count)
        )
    return components


def _mixed_instances(
    ctx: PricingContext, prices: Prices, template: linked.Linked, capacity: Decimal, policy: Attributes
) -> list[CostComponent]:
    override = policy.block("launch_template").block("override")
    count = capacity
    instance_type = override.text("instance_type")
    if instance_type is not None:
        weight = override.decimal("weighted_capacity")
        if weight is None:
            weight = Decimal(1)
        count = ZERO if weight <= 0 else Decimal(math.ceil(capacity / weight))
    distribution = policy.block("instances_distribution")
    base = distribution.decimal("on_demand_base_capacity")
    base = min(base, count) if base is not None and base >= 0 else ZERO
    percent = distribution.decimal("on_demand_percentage_above_base_capacity")
    percent = percent if percent is not None and 0 <= percent <= HUNDRED else HUNDRED
    return compute.template_instances(
        ctx,
        prices,
        template,
        instance_type=instance_type or template.attrs.text("instance_type"),
        os=compute.operating_system(ctx.usage, ctx.address),
        count=count,
        # The base, then the percentage of the rest (rounded up), as Infracost splits them.
        on_demand=base + Decimal(math.ceil((count - base) * percent / HUNDRED)),
    )
