"""aws_elastic_beanstalk_environment: what an environment runs, priced as its parts, as Infracost's
``ElasticBeanstalkEnvironment``.

An environment's ``setting`` blocks describe the resources Elastic Beanstalk creates; each is priced by
the pricer of the resource it stands for, as a sub-resource named like Infracost's:

* ``aws_launch_configuration``: ``MinSize`` instances (default 1) of ``InstanceTypes`` (its first
  type), else ``InstanceType``, each with a root volume (``aws_ebs_volume``: ``RootVolumeType``,
  ``RootVolumeSize``, ``RootVolumeIOPS``; the EBS defaults otherwise). The usage under ``ec2`` sets
  the operating system and a reservation, as for an instance. Infracost lists no CPU credits for these
  instances (its usage key ``monthly_cpu_credit_hrs`` changes nothing), so burstable types are priced
  in standard mode and that key is not read.
* ``aws_db_instance`` when ``DBInstanceClass`` is set (``DBEngine``, ``MultiAZDatabase``,
  ``DBAllocatedStorage``), with the usage under ``db``.
* ``aws_cloudwatch_log_group`` when ``StreamLogs`` is true, with the usage under ``cloudwatch``.
* ``aws_elb`` for a ``classic`` ``LoadBalancerType`` (usage under ``elb``), else ``aws_loadbalancer``:
  an application load balancer when the type is ``application``, else a network one (Infracost's
  reading of an unset type), with the usage under ``lb``.

Two readings stricter than Infracost's: ``StreamLogs`` and ``MultiAZDatabase`` count when their value
is true (Infracost counts the setting's presence).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cloudcostguard.estimation.attributes import Attributes, parse_decimal
from cloudcostguard.estimation.aws import cloudwatch, compute, ebs, elb, rds  # noqa: F401 - registered first
from cloudcostguard.estimation.kit import OBJECT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PRICERS, USAGE_KEYS, PricingContext, pricer
from cloudcostguard.estimation.usage import ResourceUsage

LAUNCH_CONFIGURATION = "aws_launch_configuration"
ROOT_VOLUME = f"{LAUNCH_CONFIGURATION} › aws_ebs_volume"
DB_INSTANCE = "aws_db_instance"
LOG_GROUP = "aws_cloudwatch_log_group"
CLASSIC_LB = "aws_elb"
LOAD_BALANCER = "aws_loadbalancer"
_EMPTY: Mapping[str, Any] = {}

# The instance keys the environment's instances read: all but the CPU credit ones (see above).
INSTANCE_USAGE = tuple(
    key for key in compute.INSTANCE_USAGE if key.name not in ("monthly_cpu_credit_hrs", "vcpu_count")
)
USAGE = (
    UsageKey("ec2", OBJECT, "Usage of the environment's instances.", keys=INSTANCE_USAGE),
    UsageKey(
        "db",
        OBJECT,
        "Usage of the environment's database (as aws_db_instance).",
        keys=USAGE_KEYS["aws_db_instance"],
    ),
    UsageKey(
        "cloudwatch",
        OBJECT,
        "Usage of the environment's log group (as aws_cloudwatch_log_group).",
        keys=USAGE_KEYS["aws_cloudwatch_log_group"],
    ),
    UsageKey("elb", OBJECT, "Usage of a classic load balancer (as aws_elb).", keys=USAGE_KEYS["aws_elb"]),
    UsageKey("lb", OBJECT, "Usage of another load balancer (as aws_lb).", keys=USAGE_KEYS["aws_lb"]),
)


def _settings(attrs: Attributes) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for setting in attrs.blocks("setting"):
        name = setting.text("name")
        if name is not None:
            settings[name] = setting.raw("value")
    return settings


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


# Setting values are strings ("4", "true"): parts read them through Attributes, which parses numbers.
def _part(
    ctx: PricingContext, resource_type: str, values: Mapping[str, Any], usage_key: str
) -> PricingContext:
    """A context for one part: its own attributes and the environment's usage under ``usage_key``."""
    nested = ctx.usage.raw(usage_key)
    usage = ResourceUsage(nested if isinstance(nested, Mapping) else _EMPTY, f"{ctx.address}.{usage_key}")
    return ctx._replace(resource_type=resource_type, attrs=Attributes(values), usage=usage)


def _under(parent: str, components: list[CostComponent]) -> list[CostComponent]:
    return [
        c._replace(subresource=parent if c.subresource is None else f"{parent} › {c.subresource}")
        for c in components
    ]


@pricer("aws_elastic_beanstalk_environment", usage=USAGE)
def price_elastic_beanstalk_environment(ctx: PricingContext) -> list[CostComponent]:
    settings = _settings(ctx.attrs)
    components = _instances(ctx, settings)
    if settings.get("DBInstanceClass") is not None:
        database = {
            "instance_class": settings["DBInstanceClass"],
            "engine": settings.get("DBEngine"),
            "multi_az": _true(settings.get("MultiAZDatabase")),
            "allocated_storage": settings.get("DBAllocatedStorage"),
        }
        part = _part(ctx, DB_INSTANCE, database, "db")
        components.extend(_under(DB_INSTANCE, PRICERS[DB_INSTANCE](part)))
    if _true(settings.get("StreamLogs")):
        part = _part(ctx, LOG_GROUP, _EMPTY, "cloudwatch")
        components.extend(_under(LOG_GROUP, PRICERS[LOG_GROUP](part)))
    kind = str(settings.get("LoadBalancerType") or "").lower()
    if kind == "classic":
        part = _part(ctx, CLASSIC_LB, _EMPTY, "elb")
        components.extend(_under(CLASSIC_LB, PRICERS[CLASSIC_LB](part)))
    else:
        values = {"load_balancer_type": "application" if kind == "application" else "network"}
        part = _part(ctx, "aws_lb", values, "lb")
        components.extend(_under(LOAD_BALANCER, PRICERS["aws_lb"](part)))
    return components


def _instances(ctx: PricingContext, settings: Mapping[str, Any]) -> list[CostComponent]:
    types = settings.get("InstanceTypes") or settings.get("InstanceType")
    instance_type = str(types).split(",")[0].strip() if types else None
    count = parse_decimal(settings.get("MinSize"))
    if count is None or count < 0:
        count = Decimal(1)
    part = _part(ctx, LAUNCH_CONFIGURATION, _EMPTY, "ec2")
    prices = ctx.prices(compute.SERVICE)
    components = compute.instance_components(
        part,
        prices,
        instance_type=instance_type,
        os=compute.operating_system(part.usage, ctx.address),
        purchase=compute.purchase_label(part.usage, ctx.address),
        tenancy="Shared",
        hours=ctx.hours_per_month * count,
        count=count,
        cpu_credits="standard",
        subresource=LAUNCH_CONFIGURATION,
    )
    root = Attributes(
        {
            "volume_type": settings.get("RootVolumeType"),
            "volume_size": settings.get("RootVolumeSize"),
            "iops": settings.get("RootVolumeIOPS"),
        }
    )
    components.extend(compute.block_device_components(prices, root, ROOT_VOLUME, count))
    return components
