"""aws_docdb_cluster_instance: instance hours, storage, I/O requests and CPU credits (AmazonDocDB offer).

As Infracost prices it: the instance by ``instanceType`` (``volumeType: General Purpose``, the standard
storage configuration); storage (usage ``data_storage_gb``) and I/O requests (usage
``monthly_io_requests``) are charged on the cluster but shown on each instance, usage-based; CPU
credits (usage ``monthly_cpu_credit_hrs``, vCPU-hours) only for the burstable db.t3 and db.t4g classes.
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, INTEGER, MILLION, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonDocDB"
BURSTABLE_FAMILIES = ("db.t3", "db.t4g")

_STORAGE = {"productFamily": "Database Storage", "usagetypeBase": "StorageUsage"}
_IO_REQUESTS = {"productFamily": "System Operation", "usagetypeBase": "StorageIOUsage"}
_CPU_CREDITS = {
    family: {"productFamily": "CPU Credits", "usagetypeBase": f"CPUCredits:{family}"}
    for family in BURSTABLE_FAMILIES
}

USAGE = (
    UsageKey("data_storage_gb", FLOAT, "Data stored in the cluster (GB)."),
    UsageKey("monthly_io_requests", INTEGER, "Monthly storage I/O requests."),
    UsageKey(
        "monthly_cpu_credit_hrs",
        INTEGER,
        "Monthly CPU credits above the baseline (vCPU-hours, db.t3/db.t4g).",
    ),
)


def burstable_family(instance_class: str | None) -> str | None:
    """``db.t3.medium`` → ``db.t3`` for the classes that earn CPU credits, else None."""
    if instance_class is None:
        return None
    family = ".".join(instance_class.lower().split(".")[:2])
    return family if family in BURSTABLE_FAMILIES else None


@pricer("aws_docdb_cluster_instance", usage=USAGE)
def price_docdb_cluster_instance(ctx: PricingContext) -> list[CostComponent]:
    usage = ctx.usage
    prices = ctx.prices(SERVICE)
    instance_class = ctx.attrs.text("instance_class")
    instance_query = {
        "productFamily": "Database Instance",
        "instanceType": instance_class or "",
        "volumeType": "General Purpose",
    }
    components = [
        prices.hourly(f"Database instance (on-demand, {instance_class})", instance_query),
        prices.usage("Storage", "GB", usage.decimal("data_storage_gb"), _STORAGE),
        prices.usage(
            "I/O requests", "1M requests", usage.decimal("monthly_io_requests"), _IO_REQUESTS, scale=MILLION
        ),
    ]
    family = burstable_family(instance_class)
    if family is not None:
        components.append(
            prices.usage(
                "CPU credits", "vCPU-hours", usage.decimal("monthly_cpu_credit_hrs"), _CPU_CREDITS[family]
            )
        )
    return components
