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

from dataclasses import replace
from datetime import date
from decimal import Decimal

from cloudcostguard.estimation.aws import ebs, ec2, linked
from cloudcostguard.estimation.components import at_unit_price, priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonEKS"

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
    usagetype = "AmazonEKS-Hours:extendedSupport" if extended else "AmazonEKS-Hours:perCluster"
    price = ctx.catalog.lookup(SERVICE, ctx.region, productFamily="Compute", usagetypeBase=usagetype)
    name = "EKS cluster (extended support)" if extended else "EKS cluster"
    return [priced(name, "hours", ctx.hours_per_month, price)]


def _node_count(*candidates: Decimal | None) -> Decimal:
    """The first usable count: usage ``instances``, then desired size, then minimum size, then 1."""
    for candidate in candidates:
        if candidate is not None and candidate >= 0:  # a negative count is garbage, not a refund
            return candidate
    return Decimal(1)


@pricer("aws_eks_node_group")
def price_eks_node_group(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    scaling = attrs.block("scaling_config")
    count = _node_count(
        ctx.usage.decimal("instances"), scaling.decimal("desired_size"), scaling.decimal("min_size")
    )

    instance_types = [value for value in attrs.items("instance_types") if isinstance(value, str) and value]
    uses_launch_template = bool(attrs.block("launch_template"))
    template = ec2.launch_template(ctx) if uses_launch_template else None
    if template is not None:
        return _launch_template_nodes(ctx, template, count, instance_types)
    if instance_types:
        instance_type: str | None = instance_types[0]
    else:
        instance_type = None if uses_launch_template else DEFAULT_NODE_INSTANCE_TYPE
    windows = (attrs.text("ami_type") or "").upper().startswith("WINDOWS")
    os = ec2.operating_system(
        ctx.usage, ctx.address, ec2.OPERATING_SYSTEMS["windows"] if windows else ec2.LINUX
    )
    spot = (attrs.text("capacity_type") or "").upper() == "SPOT"

    components = [
        ec2.instance_usage_component(
            ctx.catalog,
            ctx.region,
            instance_type=instance_type,
            os=os,
            purchase=ec2.purchase_label(ctx.usage, ctx.address, "spot" if spot else "on-demand"),
            tenancy="Shared",
            hours=ctx.hours_per_month * count,
        )
    ]
    family = ec2.burstable_family(instance_type)
    if family is not None and instance_type is not None and family in ec2.UNLIMITED_BY_DEFAULT:
        # EKS's own launch template sets no credit specification: the family default applies.
        components.append(
            ec2.cpu_credit_component(
                ctx.catalog,
                ctx.region,
                family=family,
                os=os,
                usage=ctx.usage,
                instance_type=instance_type,
                count=count,
            )
        )
    if not uses_launch_template:
        disk = attrs.decimal("disk_size")
        if disk is None or disk <= 0:
            disk = DEFAULT_WINDOWS_NODE_DISK_GB if windows else DEFAULT_NODE_DISK_GB
        components.extend(
            ebs.volume_components(ctx.catalog, ctx.region, volume_type="gp2", size_gb=disk, count=count)
        )
    return components


def _launch_template_nodes(
    ctx: PricingContext, template: linked.Linked, count: Decimal, instance_types: list[str]
) -> list[CostComponent]:
    """``count`` nodes as the launch template describes them, under a sub-resource named after it."""
    attrs, lt = ctx.attrs, template.attrs
    where = template.address
    instance_type = lt.text("instance_type") or (instance_types[0] if instance_types else None)
    windows = (attrs.text("ami_type") or "").upper().startswith("WINDOWS")
    os = ec2.operating_system(
        ctx.usage, ctx.address, ec2.OPERATING_SYSTEMS["windows"] if windows else ec2.LINUX
    )
    spot = (attrs.text("capacity_type") or "").upper() == "SPOT" or (
        lt.block("instance_market_options").text("market_type") == "spot"
    )
    tenancy = (lt.block("placement").text("tenancy") or "default").lower()
    hours = ctx.hours_per_month * count

    components: list[CostComponent] = []
    if tenancy != "host":  # nodes on Dedicated Hosts: the hosts are what AWS bills
        usage = ec2.instance_usage_component(
            ctx.catalog,
            ctx.region,
            instance_type=instance_type,
            os=os,
            purchase=ec2.purchase_label(ctx.usage, ctx.address, "spot" if spot else "on-demand"),
            tenancy=ec2.TENANCIES.get(tenancy, "Shared"),
            hours=hours,
        )
        components.append(replace(usage, subresource=where))
        if ec2.template_flag(lt.raw("ebs_optimized")) and instance_type:
            surcharge = ctx.catalog.lookup(
                ec2.SERVICE,
                ctx.region,
                productFamily="Compute Instance",
                instanceType=instance_type,
                usagetypeBase=f"EBSOptimized:{instance_type}",
            )
            if surcharge is not None or instance_type in ec2.EBS_OPTIMIZED_SURCHARGED:
                components.append(priced("EBS-optimized usage", "hours", hours, surcharge, subresource=where))
    if lt.block("monitoring").flag("enabled"):
        monitoring = ec2.detailed_monitoring_component(ctx.catalog, ctx.region)
        components.append(
            at_unit_price(
                monitoring.name,
                monitoring.unit,
                ec2.DETAILED_MONITORING_METRICS * count,
                monitoring.price,
                subresource=where,
            )
        )
    family = ec2.burstable_family(instance_type)
    if family is not None and instance_type is not None:
        credits = lt.block("credit_specification").text("cpu_credits")
        if credits is None:
            credits = "unlimited" if family in ec2.UNLIMITED_BY_DEFAULT else "standard"
        if credits == "unlimited":
            credit = ec2.cpu_credit_component(
                ctx.catalog,
                ctx.region,
                family=family,
                os=os,
                usage=ctx.usage,
                instance_type=instance_type,
                count=count,
            )
            components.append(replace(credit, subresource=where))
    for position, (_, device) in enumerate(ec2.template_devices(lt)):
        components.extend(
            ebs.volume_components(
                ctx.catalog,
                ctx.region,
                volume_type=device.text("volume_type"),
                size_gb=device.decimal("volume_size"),
                iops=device.decimal("iops"),
                throughput_mibps=device.decimal("throughput"),
                subresource=f"{where}{SUBRESOURCE_SEPARATOR}block_device_mapping[{position}]",
                count=count,
            )
        )
    return components
