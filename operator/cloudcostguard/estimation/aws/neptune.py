"""aws_neptune_cluster_instance: instance hours and CPU credits (AmazonNeptune offer).

The instance is priced by ``instanceType`` and usage type ``InstanceUsage:<class>``, or
``InstanceUsageIOOptimized:<class>`` when the cluster it belongs to (``cluster_identifier`` referring to
an ``aws_neptune_cluster`` of the plan) has ``storage_type = "iopt1"``, as Infracost does. CPU credits
(usage ``monthly_cpu_credit_hrs``) for db.t3/db.t4g: Infracost counts the usage value every hour of the
month (10 → 7,300 vCPU-hours), and so do we, so that its figures are reproduced.
"""

from __future__ import annotations

from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.aws.docdb import BURSTABLE_FAMILIES, burstable_family
from cloudcostguard.estimation.kit import INTEGER, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonNeptune"
IO_OPTIMIZED_STORAGE = "iopt1"

_CPU_CREDITS = {family: {"usagetypeBase": f"CPUCredits:{family}"} for family in BURSTABLE_FAMILIES}
USAGE = (
    UsageKey("monthly_cpu_credit_hrs", INTEGER, "CPU credits above the baseline (vCPU-hours, db.t3/db.t4g)."),
)


@pricer("aws_neptune_cluster_instance", usage=USAGE)
def price_neptune_cluster_instance(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(SERVICE)
    instance_class = (ctx.attrs.text("instance_class") or "").lower()
    prefix = "InstanceUsageIOOptimized" if _io_optimized(ctx) else "InstanceUsage"
    query = {"instanceType": instance_class, "usagetypeBase": f"{prefix}:{instance_class}"}
    components = [prices.hourly(f"Database instance (on-demand, {instance_class})", query)]
    family = burstable_family(instance_class)
    if family is not None:
        credits = ctx.usage.decimal("monthly_cpu_credit_hrs")
        quantity = None if credits is None else credits * ctx.hours_per_month
        components.append(prices.usage("CPU credits", "vCPU-hours", quantity, _CPU_CREDITS[family]))
    return components


def _io_optimized(ctx: PricingContext) -> bool:
    for cluster in linked.referred(ctx, "cluster_identifier", "aws_neptune_cluster"):
        storage = cluster.attrs.text("storage_type")
        if storage is not None and storage.lower() == IO_OPTIMIZED_STORAGE:
            return True
    return False
