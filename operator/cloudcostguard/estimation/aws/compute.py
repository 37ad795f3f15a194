"""Compute pieces shared by every resource that runs EC2 instances: instance hours, EBS-optimized
surcharge, detailed monitoring, CPU credits, block devices and launch templates.

``aws_instance`` (ec2.py), ``aws_eks_node_group`` (eks.py) and autoscaling groups price their
instances with ``instance_components`` and their disks with ``block_device_components``, so a fleet of
``count`` instances is priced the same way wherever it is declared.

Usage keys every instance-running type reads: ``INSTANCE_USAGE`` (Infracost's names).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard import errors
from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import ebs, linked
from cloudcostguard.estimation.components import at_unit_price, priced
from cloudcostguard.estimation.kit import FLOAT, STRING, Prices, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext
from cloudcostguard.estimation.usage import ResourceUsage

SERVICE = "AmazonEC2"
CLOUDWATCH = "AmazonCloudWatch"
ONE = Decimal(1)

INSTANCE_USAGE = (
    UsageKey("operating_system", STRING, "Operating system: linux (default), windows, rhel or suse."),
    UsageKey("reserved_instance_type", STRING, "Reserved instance type: standard or convertible."),
    UsageKey("reserved_instance_term", STRING, "Reserved instance term: 1_year or 3_year."),
    UsageKey(
        "reserved_instance_payment_option",
        STRING,
        "Reserved instance payment option: no_upfront, partial_upfront or all_upfront.",
    ),
    UsageKey("monthly_cpu_credit_hrs", FLOAT, "Hours a month of CPU credits above the baseline (unlimited)."),
    UsageKey("vcpu_count", FLOAT, "vCPUs charged for CPU credits (default: the instance type's)."),
)


@dataclass(frozen=True, slots=True)
class OperatingSystem:
    label: str  # as Infracost names it in the component
    offer_value: str  # the offer files' operatingSystem


OPERATING_SYSTEMS = {
    "linux": OperatingSystem("Linux/UNIX", "Linux"),
    "windows": OperatingSystem("Windows", "Windows"),
    "rhel": OperatingSystem("RHEL", "RHEL"),
    "suse": OperatingSystem("SUSE", "SUSE"),
}
LINUX = OPERATING_SYSTEMS["linux"]

TENANCIES = {"default": "Shared", "dedicated": "Dedicated"}

RESERVED_TYPES = ("standard", "convertible")
RESERVED_TERMS = ("1_year", "3_year")
RESERVED_PAYMENT_OPTIONS = ("no_upfront", "partial_upfront", "all_upfront")

# EC2 detailed monitoring publishes 7 metrics per instance at 1-minute resolution, billed as custom
# metrics (AWS CloudWatch pricing); like Infracost we charge them at the first tier's price.
DETAILED_MONITORING_METRICS = Decimal(7)

# Burstable families and their credit default: T2 launches "standard", T3/T3a/T4g "unlimited"
# (AWS burstable performance instances guide). Only "unlimited" instances can be charged for credits.
BURSTABLE_FAMILIES = ("t2", "t3", "t3a", "t4g")
UNLIMITED_BY_DEFAULT = ("t3", "t3a", "t4g")
# vCPUs per burstable size (AWS instance type specifications), for when usage gives no vcpu_count.
BURSTABLE_VCPUS = {
    "t2": {"nano": 1, "micro": 1, "small": 1, "medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8},
    "t3": {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8},
}
BURSTABLE_VCPUS["t3a"] = BURSTABLE_VCPUS["t3"]
BURSTABLE_VCPUS["t4g"] = BURSTABLE_VCPUS["t3"]

# Previous-generation types that support EBS optimization for an extra hourly fee (AWS "Amazon
# EBS-optimized instance types", previous generation). Every other type is either EBS-optimized by
# default at no charge or cannot be optimized, so ``ebs_optimized = true`` costs nothing there.
EBS_OPTIMIZED_SURCHARGED = frozenset(
    {
        "c1.xlarge",
        "c3.xlarge",
        "c3.2xlarge",
        "c3.4xlarge",
        "g2.2xlarge",
        "i2.xlarge",
        "i2.2xlarge",
        "i2.4xlarge",
        "m1.large",
        "m1.xlarge",
        "m2.2xlarge",
        "m2.4xlarge",
        "m3.xlarge",
        "m3.2xlarge",
        "r3.xlarge",
        "r3.2xlarge",
        "r3.4xlarge",
    }
)


def operating_system(usage: ResourceUsage, address: str, default: OperatingSystem = LINUX) -> OperatingSystem:
    value = usage.text("operating_system")
    if value is None:
        return default
    try:
        return OPERATING_SYSTEMS[value.strip().lower()]
    except KeyError:
        choices = ", ".join(OPERATING_SYSTEMS)
        raise errors.UsageError(
            f"{address}: operating_system must be one of {choices}, not {value!r}"
        ) from None


def purchase_label(usage: ResourceUsage, address: str, default: str = "on-demand") -> str:
    """``reserved`` when the usage asks for a reservation (validated like Infracost), else ``default``."""
    reserved_type = usage.text("reserved_instance_type")
    if reserved_type is None:
        return default
    for key, choices in (
        ("reserved_instance_type", RESERVED_TYPES),
        ("reserved_instance_term", RESERVED_TERMS),
        ("reserved_instance_payment_option", RESERVED_PAYMENT_OPTIONS),
    ):
        value = usage.text(key)
        if value not in choices:
            raise errors.UsageError(f"{address}: {key} must be one of {', '.join(choices)}, not {value!r}")
    return "reserved"


def burstable_family(instance_type: str | None) -> str | None:
    family = (instance_type or "").split(".", 1)[0]
    return family if family in BURSTABLE_FAMILIES else None


def instance_components(
    ctx: PricingContext,
    prices: Prices,
    *,
    instance_type: str | None,
    os: OperatingSystem,
    purchase: str,
    tenancy: str | None,
    hours: Decimal,
    count: Decimal = ONE,
    ebs_optimized: bool = False,
    monitoring: bool = False,
    cpu_credits: str | None = None,
    subresource: str | None = None,
) -> list[CostComponent]:
    """``count`` instances running ``hours`` instance-hours in all: compute (not on a Dedicated Host,
    ``tenancy`` None: the host is what AWS bills), the EBS-optimized surcharge where AWS charges one,
    detailed monitoring, and CPU credits of unlimited burstable instances (``cpu_credits`` None: the
    family's launch default)."""
    components: list[CostComponent] = []
    if tenancy is not None:
        components.append(
            instance_usage_component(
                prices,
                instance_type=instance_type,
                os=os,
                purchase=purchase,
                tenancy=tenancy,
                hours=hours,
                subresource=subresource,
            )
        )
        if ebs_optimized and instance_type:
            surcharge = prices.lookup(
                productFamily="Compute Instance",
                instanceType=instance_type,
                usagetypeBase=f"EBSOptimized:{instance_type}",
            )
            if surcharge is not None or instance_type in EBS_OPTIMIZED_SURCHARGED:
                components.append(
                    priced("EBS-optimized usage", "hours", hours, surcharge, subresource=subresource)
                )
    if monitoring:
        components.append(detailed_monitoring_component(ctx, count, subresource))
    family = burstable_family(instance_type)
    if family is not None and instance_type is not None:
        if cpu_credits is None:
            cpu_credits = "unlimited" if family in UNLIMITED_BY_DEFAULT else "standard"
        if cpu_credits == "unlimited":
            components.append(
                cpu_credit_component(
                    prices,
                    family=family,
                    os=os,
                    usage=ctx.usage,
                    instance_type=instance_type,
                    count=count,
                    subresource=subresource,
                )
            )
    return components


def instance_usage_component(
    prices: Prices,
    *,
    instance_type: str | None,
    os: OperatingSystem,
    purchase: str,
    tenancy: str,
    hours: Decimal,
    subresource: str | None = None,
) -> CostComponent:
    """Compute hours; only on-demand prices exist in the catalog, so other purchase options show no price."""
    name = f"Instance usage ({os.label}, {purchase}, {instance_type or 'unknown'})"
    price = None
    if instance_type and purchase == "on-demand":
        price = prices.lookup(
            productFamily="Compute Instance",
            instanceType=instance_type,
            operatingSystem=os.offer_value,
            tenancy=tenancy,
            preInstalledSw="NA",
            capacitystatus="Used",
            licenseModel="No License required",
        )
    return priced(name, "hours", hours, price, subresource=subresource)


def cpu_credit_component(
    prices: Prices,
    *,
    family: str,
    os: OperatingSystem,
    usage: ResourceUsage,
    instance_type: str,
    count: Decimal = ONE,
    subresource: str | None = None,
) -> CostComponent:
    """Surplus credits of an unlimited burstable instance: ``monthly_cpu_credit_hrs`` × vCPUs."""
    credit_hours = usage.decimal("monthly_cpu_credit_hrs")
    vcpus = usage.decimal("vcpu_count")
    if vcpus is None:
        size = instance_type.split(".", 1)[-1]
        known = BURSTABLE_VCPUS[family].get(size)
        vcpus = None if known is None else Decimal(known)
    quantity = None if credit_hours is None or vcpus is None else credit_hours * vcpus * count
    price = prices.lookup(
        productFamily="CPU Credits",
        # Credits are sold for Linux and Windows; RHEL and SUSE instances pay the Linux rate.
        operatingSystem="Windows" if os.offer_value == "Windows" else "Linux",
        usagetypeBase=f"CPUCredits:{family}",
    )
    return priced("CPU credits", "vCPU-hours", quantity, price, usage_based=True, subresource=subresource)


def detailed_monitoring_component(
    ctx: PricingContext, count: Decimal = ONE, subresource: str | None = None
) -> CostComponent:
    price = ctx.catalog.lookup(
        CLOUDWATCH, ctx.region, productFamily="Metric", usagetypeBase="CW:MetricMonitorUsage"
    )
    return at_unit_price(
        "EC2 detailed monitoring",
        "metrics",
        DETAILED_MONITORING_METRICS * count,
        price.unit_price if price else None,
        subresource=subresource,
    )


def block_device_components(
    prices: Prices, device: Attributes, subresource: str | None, count: Decimal = ONE
) -> list[CostComponent]:
    """A ``root_block_device``, ``ebs_block_device`` or launch template ``ebs`` block (Terraform
    attribute names) on each of ``count`` instances."""
    return ebs.volume_components(
        prices,
        volume_type=device.text("volume_type"),
        size_gb=device.decimal("volume_size"),
        iops=device.decimal("iops"),
        throughput_mibps=device.decimal("throughput"),
        subresource=subresource,
        count=count,
    )


def launch_template(ctx: PricingContext) -> linked.Linked | None:
    """The plan's ``aws_launch_template`` this instance (or node group) is launched from, if any."""
    if not ctx.attrs.items("launch_template"):
        return None
    for attribute in ("launch_template.id", "launch_template.name"):
        found = linked.referred(ctx, attribute, "aws_launch_template")
        if found:
            return found[0]
    return None


def template_flag(value: object) -> bool | None:
    """A launch template's ``ebs_optimized`` is a string ("true", "false", "" for unset) in the AWS
    provider, a boolean in some plans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def template_devices(template: Attributes) -> list[tuple[str | None, Attributes]]:
    """(device name, EBS settings) of a template's block device mappings that create an EBS volume."""
    return [
        (mapping.text("device_name"), mapping.block("ebs"))
        for mapping in template.blocks("block_device_mappings")
        if mapping.items("ebs") and not mapping.text("no_device")
    ]
