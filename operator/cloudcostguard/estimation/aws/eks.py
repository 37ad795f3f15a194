"""EKS: the cluster's hourly fee (standard or extended support) and managed node groups.

**Extended support.** A Kubernetes minor version is in standard support for 14 months after EKS
releases it, then in extended support for 12 more, billed at the extended-support hourly rate instead
of the standard one (AWS "Kubernetes version lifecycle on EKS"). A cluster is priced at the
extended-support rate when its ``version`` reached its end of standard support on or before the day
of the estimate (UTC), according to ``END_OF_STANDARD_SUPPORT`` below; a version older than the table
is past it too, a version newer than the table is not yet. A cluster whose
``upgrade_policy.support_type`` is ``STANDARD`` is upgraded by AWS at the end of standard support, so
it never pays extended support. An unknown or absent version is the default (current) version:
standard. The extended rate is the catalog's ``AmazonEKS-Hours:extendedSupport`` price, which is the
whole hourly fee ($0.60 in us-east-1), not a supplement.

**Node groups** (no usage needed): ``scaling_config.desired_size`` nodes (usage ``instances``
overrides it) of the first of ``instance_types`` (EKS's default t3.medium when none), each with a
``disk_size`` GB gp2 disk (EKS's defaults: 20 GB, 50 GB for Windows AMIs), shown at the top level
like Infracost does. ``capacity_type = "SPOT"`` is named spot and has no price in the on-demand
catalog. Usage keys as ``aws_instance``'s: ``operating_system``, ``monthly_cpu_credit_hrs``,
``vcpu_count``, ``reserved_instance_*``, plus ``instances``.

**Launch templates.** A node group launched from an ``aws_launch_template`` of the plan
(``launch_template { id | name = aws_launch_template.x.id | .name }``) is priced as Infracost does:
under a sub-resource named after the template, its nodes run the template's ``instance_type`` (else
the node group's first ``instance_types``), with the template's tenancy, detailed monitoring,
EBS-optimized surcharge and credit specification, spot when the template's market (or the node
group's ``capacity_type``) says so, and one volume per node for each of the template's EBS
``block_device_mappings``. A template the plan does not hold (a data source, a module output, another
configuration) leaves the type to ``instance_types``: without them the instance line has no price;
and no disk line is added, since the disks come from the template or the AMI.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from cloudcostguard.estimation.aws import compute, ebs, linked
from cloudcostguard.estimation.kit import FLOAT, Prices, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonEKS"
STANDARD_SUPPORT_QUERY = {"productFamily": "Compute", "usagetypeBase": "AmazonEKS-Hours:perCluster"}
# The whole hourly fee of a version in extended support, not a supplement.
EXTENDED_SUPPORT_QUERY = {"productFamily": "Compute", "usagetypeBase": "AmazonEKS-Hours:extendedSupport"}

# End of standard support per minor version (AWS EKS Kubernetes release calendar).
END_OF_STANDARD_SUPPORT: dict[tuple[int, int], date] = {
    (1, 23): date(2023, 10, 11),
    (1, 24): date(2024, 1, 31),
    (1, 25): date(2024, 5, 1),
    (1, 26): date(2024, 6, 11),
    (1, 27): date(2024, 7, 24),
    (1, 28): date(2024, 11, 26),
    (1, 29): date(2025, 3, 23),
    (1, 30): date(2025, 7, 23),
    (1, 31): date(2025, 11, 26),
    (1, 32): date(2026, 3, 23),
    (1, 33): date(2026, 7, 29),
    (1, 34): date(2026, 12, 2),
    (1, 35): date(2027, 3, 27),
}

# How nested sub-resources are written (Infracost's tree; the renderers split on it).
SUBRESOURCE_SEPARATOR = " › "

DEFAULT_NODE_INSTANCE_TYPE = "t3.medium"
DEFAULT_NODE_DISK_GB = Decimal(20)
DEFAULT_WINDOWS_NODE_DISK_GB = Decimal(50)


def parse_version(version: str | None) -> tuple[int, int] | None:
    """``"1.29"`` (or ``"1.29.3"``) → (1, 29); anything else → None."""
    if version is None:
        return None
    parts = version.strip().lstrip("vV").split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def in_extended_support(version: str | None, on: date) -> bool:
    parsed = parse_version(version)
    if parsed is None:
        return False
    end = END_OF_STANDARD_SUPPORT.get(parsed)
    if end is not None:
        return end <= on
    return parsed < min(END_OF_STANDARD_SUPPORT)


@pricer("aws_eks_cluster")
def price_eks_cluster(ctx: PricingContext) -> list[CostComponent]:
    support_type = (ctx.attrs.block("upgrade_policy").text("support_type") or "").upper()
    extended = support_type != "STANDARD" and in_extended_support(ctx.attrs.text("version"), ctx.pricing_date)
    if extended:
        return [ctx.prices(SERVICE).hourly("EKS cluster (extended support)", EXTENDED_SUPPORT_QUERY)]
    return [ctx.prices(SERVICE).hourly("EKS cluster", STANDARD_SUPPORT_QUERY)]


def _node_count(*candidates: Decimal | None) -> Decimal:
    """The first usable count: usage ``instances``, then desired size, then minimum size, then 1."""
    for candidate in candidates:
        if candidate is not None and candidate >= 0:  # a negative count is garbage, not a refund
            return candidate
    return Decimal(1)


NODE_GROUP_USAGE = (
    UsageKey("instances", FLOAT, "Number of nodes (default: scaling_config.desired_size)."),
    *compute.INSTANCE_USAGE,
)


@pricer("aws_eks_node_group", usage=NODE_GROUP_USAGE)
def price_eks_node_group(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    scaling = attrs.block("scaling_config")
    count = _node_count(
        ctx.usage.decimal("instances"), scaling.decimal("desired_size"), scaling.decimal("min_size")
    )
    instance_types = [value for value in attrs.items("instance_types") if isinstance(value, str) and value]
    uses_launch_template = bool(attrs.block("launch_template"))
    template = compute.launch_template(ctx) if uses_launch_template else None
    windows = (attrs.text("ami_type") or "").upper().startswith("WINDOWS")
    os = compute.operating_system(
        ctx.usage, ctx.address, compute.OPERATING_SYSTEMS["windows"] if windows else compute.LINUX
    )
    spot = (attrs.text("capacity_type") or "").upper() == "SPOT"
    prices = ctx.prices(compute.SERVICE)
    hours = ctx.hours_per_month * count
    if template is not None:
        return _launch_template_nodes(
            ctx, prices, template, count=count, instance_types=instance_types, os=os, spot=spot
        )
    if instance_types:
        instance_type: str | None = instance_types[0]
    else:
        instance_type = None if uses_launch_template else DEFAULT_NODE_INSTANCE_TYPE
    # EKS's own launch template sets no credit specification: the family default applies.
    components = compute.instance_components(
        ctx,
        prices,
        instance_type=instance_type,
        os=os,
        purchase=compute.purchase_label(ctx.usage, ctx.address, "spot" if spot else "on-demand"),
        tenancy="Shared",
        hours=hours,
        count=count,
    )
    if not uses_launch_template:
        disk = attrs.decimal("disk_size")
        if disk is None or disk <= 0:
            disk = DEFAULT_WINDOWS_NODE_DISK_GB if windows else DEFAULT_NODE_DISK_GB
        components.extend(ebs.volume_components(prices, volume_type="gp2", size_gb=disk, count=count))
    return components


def _launch_template_nodes(
    ctx: PricingContext,
    prices: Prices,
    template: linked.Linked,
    *,
    count: Decimal,
    instance_types: list[str],
    os: compute.OperatingSystem,
    spot: bool,
) -> list[CostComponent]:
    """``count`` nodes as the launch template describes them, under a sub-resource named after it."""
    lt = template.attrs
    where = template.address
    instance_type = lt.text("instance_type") or (instance_types[0] if instance_types else None)
    spot = spot or lt.block("instance_market_options").text("market_type") == "spot"
    tenancy = (lt.block("placement").text("tenancy") or "default").lower()
    components = compute.instance_components(
        ctx,
        prices,
        instance_type=instance_type,
        os=os,
        purchase=compute.purchase_label(ctx.usage, ctx.address, "spot" if spot else "on-demand"),
        # Nodes on Dedicated Hosts: the hosts are what AWS bills.
        tenancy=None if tenancy == "host" else compute.TENANCIES.get(tenancy, "Shared"),
        hours=ctx.hours_per_month * count,
        count=count,
        ebs_optimized=compute.template_flag(lt.raw("ebs_optimized")) is True,
        monitoring=lt.block("monitoring").flag("enabled") is True,
        cpu_credits=lt.block("credit_specification").text("cpu_credits"),
        subresource=where,
    )
    for position, (_, device) in enumerate(compute.template_devices(lt)):
        components.extend(
            compute.block_device_components(
                prices, device, f"{where}{SUBRESOURCE_SEPARATOR}block_device_mapping[{position}]", count
            )
        )
    return components
