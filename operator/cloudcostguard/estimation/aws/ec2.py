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

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import compute
from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

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

USAGE = (
    *compute.INSTANCE_USAGE,
    UsageKey("monthly_hrs", FLOAT, "Hours a month the instance runs (default: every hour)."),
)


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
    template = compute.launch_template(ctx)
    if template is None:
        return attrs
    lt = template.attrs
    values = {name: attrs.raw(name) for name in INSTANCE_FIELDS}
    filled = {
        "instance_type": lt.text("instance_type"),
        "tenancy": lt.block("placement").text("tenancy"),
        "ebs_optimized": compute.template_flag(lt.raw("ebs_optimized")),
        "monitoring": lt.block("monitoring").flag("enabled"),
    }
    for name, value in filled.items():
        if values.get(name) is None and value is not None:
            values[name] = value
    for block, field in (("credit_specification", "cpu_credits"), ("instance_market_options", "market_type")):
        theirs = lt.block(block).text(field)
        if attrs.block(block).text(field) is None and theirs is not None:
            values[block] = [{field: theirs}]
    devices = merge_devices(attrs.blocks("ebs_block_device"), compute.template_devices(lt))
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


@pricer("aws_instance", usage=USAGE)
def price_instance(ctx: PricingContext) -> list[CostComponent]:
    attrs = with_launch_template(ctx)
    instance_type = attrs.text("instance_type")
    os = compute.operating_system(ctx.usage, ctx.address)
    hours = ctx.usage.decimal("monthly_hrs")
    if hours is None:
        hours = ctx.hours_per_month
    prices = ctx.prices(compute.SERVICE)
    tenancy = None
    if not on_dedicated_host(ctx, attrs):
        tenancy = compute.TENANCIES.get((attrs.text("tenancy") or "default").lower(), "Shared")
    market = attrs.block("instance_market_options").text("market_type")
    components = compute.instance_components(
        ctx,
        prices,
        instance_type=instance_type,
        os=os,
        purchase=compute.purchase_label(ctx.usage, ctx.address, "spot" if market == "spot" else "on-demand"),
        tenancy=tenancy,
        hours=hours,
        ebs_optimized=attrs.flag("ebs_optimized") is True,
        monitoring=attrs.flag("monitoring") is True,
        cpu_credits=attrs.block("credit_specification").text("cpu_credits"),
    )
    components.extend(
        compute.block_device_components(prices, attrs.block("root_block_device"), "root_block_device")
    )
    for position, device in enumerate(attrs.blocks("ebs_block_device")):
        components.extend(compute.block_device_components(prices, device, f"ebs_block_device[{position}]"))
    return components
