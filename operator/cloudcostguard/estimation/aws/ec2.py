"""aws_instance: compute hours, EBS-optimized surcharge, detailed monitoring, CPU credits, block devices.

Usage keys (Infracost's): ``operating_system`` (linux, windows, rhel, suse), ``monthly_hrs``,
``monthly_cpu_credit_hrs`` and ``vcpu_count`` (vCPU count defaults to the instance type's),
``reserved_instance_type``/``reserved_instance_term``/``reserved_instance_payment_option``.

The catalog holds on-demand prices: reserved and spot instances are named as such and reported
without a price, never priced as on-demand. An instance on a Dedicated Host (``host_id`` or
``host_resource_group_arn`` set, or referring to a resource of the plan, or ``tenancy = "host"``) has
no compute line: the host is what AWS bills. An instance type the plan does not know at all is
reported as "unknown", without a price.

**Launch templates.** An instance launched from an ``aws_launch_template`` of the plan
(``launch_template { id | name = aws_launch_template.x.id | .name }``) takes from the template's
planned values what its own values leave unknown or unset, as Infracost does: ``instance_type``,
``ebs_optimized``, ``monitoring.enabled``, ``credit_specification.cpu_credits``,
``placement.tenancy``, ``instance_market_options.market_type`` (beyond Infracost: a template's spot
market makes a spot instance), and the template's ``block_device_mappings``. Those mappings merge
with the instance's ``ebs_block_device`` by device name (the instance's values win, field by field);
mappings the instance does not name follow as further EBS devices, in the template's order. A mapping
without an ``ebs`` block (an instance-store device, ``no_device``) adds no volume. The root volume is
the instance's own, as in Infracost: a template mapping for the AMI's root device name is counted as an
extra device, since the plan does not say which device the AMI boots from.

CPU credits apply to burstable instances in unlimited mode; without ``credit_specification`` T3, T3a
and T4g are unlimited and T2 standard, as AWS launches them (Infracost treats T3a as standard).
``ebs_optimized = true`` adds the surcharge only where AWS charges one (``EBS_OPTIMIZED_SURCHARGED``,
or whatever product the catalog has); everywhere else EBS optimization is free or impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard import errors
from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import ebs, linked
from cloudcostguard.estimation.components import at_unit_price, priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.pricing.catalog import PriceCatalog

SERVICE = "AmazonEC2"
CLOUDWATCH = "AmazonCloudWatch"


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


def instance_usage_component(
    catalog: PriceCatalog,
    region: str,
    *,
    instance_type: str | None,
    os: OperatingSystem,
    purchase: str,
    tenancy: str,
    hours: Decimal,
) -> CostComponent:
    """Compute hours; only on-demand prices exist in the catalog, so other purchase options show no price."""
    name = f"Instance usage ({os.label}, {purchase}, {instance_type or 'unknown'})"
    price = None
    if instance_type and purchase == "on-demand":
        price = catalog.lookup(
            SERVICE,
            region,
            productFamily="Compute Instance",
            instanceType=instance_type,
            operatingSystem=os.offer_value,
            tenancy=tenancy,
            preInstalledSw="NA",
            capacitystatus="Used",
            licenseModel="No License required",
        )
    return priced(name, "hours", hours, price)


def cpu_credit_component(
    catalog: PriceCatalog,
    region: str,
    *,
    family: str,
    os: OperatingSystem,
    usage: ResourceUsage,
    instance_type: str,
    count: Decimal = Decimal(1),
) -> CostComponent:
    """Surplus credits of an unlimited burstable instance: ``monthly_cpu_credit_hrs`` × vCPUs."""
    credit_hours = usage.decimal("monthly_cpu_credit_hrs")
    vcpus = usage.decimal("vcpu_count")
    if vcpus is None:
        size = instance_type.split(".", 1)[-1]
        known = BURSTABLE_VCPUS[family].get(size)
        vcpus = None if known is None else Decimal(known)
    quantity = None if credit_hours is None or vcpus is None else credit_hours * vcpus * count
    price = catalog.lookup(
        SERVICE,
        region,
        productFamily="CPU Credits",
        # Credits are sold for Linux and Windows; RHEL and SUSE instances pay the Linux rate.
        operatingSystem="Windows" if os.offer_value == "Windows" else "Linux",
        usagetypeBase=f"CPUCredits:{family}",
    )
    return priced("CPU credits", "vCPU-hours", quantity, price, usage_based=True)


def detailed_monitoring_component(catalog: PriceCatalog, region: str) -> CostComponent:
    price = catalog.lookup(CLOUDWATCH, region, productFamily="Metric", usagetypeBase="CW:MetricMonitorUsage")
    return at_unit_price(
        "EC2 detailed monitoring", "metrics", DETAILED_MONITORING_METRICS, price.unit_price if price else None
    )


# What price_instance reads from an instance's values (a launch template completes some of them).
INSTANCE_FIELDS = (
    "instance_type",
    "tenancy",
    "host_id",
    "host_resource_group_arn",
    "ebs_optimized",
    "monitoring",
    "credit_specification",
    "instance_market_options",
    "root_block_device",
    "ebs_block_device",
)
# An EBS device's fields that a launch template mapping supplies when the instance leaves them unknown.
DEVICE_FIELDS = ("volume_type", "volume_size", "iops", "throughput")


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


def merge_devices(own: list[Attributes], template: list[tuple[str | None, Attributes]]) -> list[Attributes]:
    """The instance's EBS devices over the template's, matched by device name, field by field; the
    template's other devices after them."""
    remaining = list(template)
    merged: list[Attributes] = []
    for device in own:
        name = device.text("device_name")
        match = next(
            (i for i, (other, _) in enumerate(remaining) if name is not None and other == name), None
        )
        fallback = remaining.pop(match)[1] if match is not None else Attributes(None)
        merged.append(
            Attributes(
                {
                    field: device.raw(field) if device.raw(field) is not None else fallback.raw(field)
                    for field in DEVICE_FIELDS
                }
            )
        )
    merged.extend(settings for _, settings in remaining)
    return merged


def with_launch_template(ctx: PricingContext) -> Attributes:
    """The instance's values, completed from its launch template where they are unknown or unset.

    Only an instance with a ``launch_template`` block asks (the cheap check); its own known values win,
    so the state of an existing instance, which holds what the template gave it, is priced as is.
    """
    attrs = ctx.attrs
    template = launch_template(ctx)
    if template is None:
        return attrs
    lt = template.attrs
    values = {name: attrs.raw(name) for name in INSTANCE_FIELDS}
    filled = {
        "instance_type": lt.text("instance_type"),
        "tenancy": lt.block("placement").text("tenancy"),
        "ebs_optimized": template_flag(lt.raw("ebs_optimized")),
        "monitoring": lt.block("monitoring").flag("enabled"),
    }
    for name, value in filled.items():
        if values.get(name) is None and value is not None:
            values[name] = value
    for block, field in (("credit_specification", "cpu_credits"), ("instance_market_options", "market_type")):
        theirs = lt.block(block).text(field)
        if attrs.block(block).text(field) is None and theirs is not None:
            values[block] = [{field: theirs}]
    devices = merge_devices(attrs.blocks("ebs_block_device"), template_devices(lt))
    values["ebs_block_device"] = [{field: device.raw(field) for field in DEVICE_FIELDS} for device in devices]
    return Attributes(values, {"host_id": True} if attrs.is_unknown("host_id") else None)


def on_dedicated_host(ctx: PricingContext, attrs: Attributes) -> bool:
    """On a Dedicated Host: host tenancy, a host or host resource group given, or a ``host_id``
    expression referring to a resource of the plan (``aws_ec2_host.x.id``, unknown until it exists)."""
    tenancy = (attrs.text("tenancy") or "default").lower()
    if tenancy == "host" or attrs.text("host_id") is not None or attrs.text("host_resource_group_arn"):
        return True
    references = ctx.references
    # A known tenancy other than "host" rules a host out without asking the references.
    if references is None or not attrs.is_unknown("host_id") or attrs.text("tenancy") is not None:
        return False
    return bool(references.referenced_from(ctx.config_address, "host_id"))


@pricer("aws_instance")
def price_instance(ctx: PricingContext) -> list[CostComponent]:
    attrs = with_launch_template(ctx)
    instance_type = attrs.text("instance_type")
    os = operating_system(ctx.usage, ctx.address)
    hours = ctx.usage.decimal("monthly_hrs")
    if hours is None:
        hours = ctx.hours_per_month
    tenancy_value = (attrs.text("tenancy") or "default").lower()
    on_host = on_dedicated_host(ctx, attrs)

    components: list[CostComponent] = []
    if not on_host:
        market = attrs.block("instance_market_options").text("market_type")
        components.append(
            instance_usage_component(
                ctx.catalog,
                ctx.region,
                instance_type=instance_type,
                os=os,
                purchase=purchase_label(ctx.usage, ctx.address, "spot" if market == "spot" else "on-demand"),
                tenancy=TENANCIES.get(tenancy_value, "Shared"),
                hours=hours,
            )
        )
        if attrs.flag("ebs_optimized") and instance_type:
            surcharge = ctx.catalog.lookup(
                SERVICE,
                ctx.region,
                productFamily="Compute Instance",
                instanceType=instance_type,
                usagetypeBase=f"EBSOptimized:{instance_type}",
            )
            if surcharge is not None or instance_type in EBS_OPTIMIZED_SURCHARGED:
                components.append(priced("EBS-optimized usage", "hours", hours, surcharge))
    if attrs.flag("monitoring"):
        components.append(detailed_monitoring_component(ctx.catalog, ctx.region))
    family = burstable_family(instance_type)
    if family is not None and instance_type is not None:
        credits = attrs.block("credit_specification").text("cpu_credits")
        if credits is None:
            credits = "unlimited" if family in UNLIMITED_BY_DEFAULT else "standard"
        if credits == "unlimited":
            components.append(
                cpu_credit_component(
                    ctx.catalog,
                    ctx.region,
                    family=family,
                    os=os,
                    usage=ctx.usage,
                    instance_type=instance_type,
                )
            )
    components.extend(
        ebs.block_device_components(
            ctx.catalog, ctx.region, attrs.block("root_block_device"), "root_block_device"
        )
    )
    for position, device in enumerate(attrs.blocks("ebs_block_device")):
        components.extend(
            ebs.block_device_components(ctx.catalog, ctx.region, device, f"ebs_block_device[{position}]")
        )
    return components
