"""aws_docdb_cluster_instance: instance hours, storage, I/O and CPU credits (the last three from usage).

As Infracost: "Database instance (on-demand, CLASS)" from the ``Database Instance`` product of the
class (``volumeType`` General Purpose: standard storage, not I/O-optimized); storage (usage
``data_storage_gb``), I/O requests (``monthly_io_requests``, shown per million) and, for the burstable
db.t3/db.t4g classes, CPU credits (``monthly_cpu_credit_hrs``). Storage and I/O belong to the cluster
in AWS's bill; Infracost, and so we, read them on each instance.
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, INTEGER, MILLION, UsageBased, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonDocDB"
BURSTABLE_FAMILIES = ("db.t3", "db.t4g")
STORAGE = UsageBased(
    "Storage", "GB", "data_storage_gb", {"productFamily": "Database Storage", "usagetypeBase": "StorageUsage"}
)
IO_REQUESTS = UsageBased(
    "I/O requests",
    "1M requests",
    "monthly_io_requests",
    {"productFamily": "System Operation", "usagetypeBase": "StorageIOUsage"},
    MILLION,
)
# The credit shape of each burstable family, built once.
CPU_CREDITS = {
    family: UsageBased(
        "CPU credits",
        "vCPU-hours",
        "monthly_cpu_credit_hrs",
        {"productFamily": "CPU Credits", "usagetypeBase": f"CPUCredits:{family}"},
    )
    for family in BURSTABLE_FAMILIES
}
USAGE = (
    UsageKey("data_storage_gb", FLOAT, "Data stored by the cluster (GB)."),
    UsageKey("monthly_io_requests", INTEGER, "Monthly I/O requests."),
    UsageKey("monthly_cpu_credit_hrs", INTEGER, "Monthly CPU credit vCPU-hours (db.t3/db.t4g)."),
)


@pricer("aws_docdb_cluster_instance", usage=USAGE)
def price_docdb_cluster_instance(ctx: PricingContext) -> list[CostComponent]:
    instance_class = ctx.attrs.text("instance_class")
    prices = ctx.prices(SERVICE)
    name = f"Database instance (on-demand, {instance_class})"
    instance = prices.hourly(
        name,
        {
            "productFamily": "Database Instance",
            "instanceType": instance_class or "",
            "volumeType": "General Purpose",
        },
    )
    components = [instance, STORAGE.component(ctx, prices), IO_REQUESTS.component(ctx, prices)]
    family = ".".join((instance_class or "").split(".")[:2])
    credits = CPU_CREDITS.get(family)
    if credits is not None:
        components.append(credits.component(ctx, prices))
    return components
