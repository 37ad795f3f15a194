"""aws_dms_replication_instance: Database Migration Service replication instances, as Infracost's
``DMSReplicationInstance``.

Instance hours at the class's price (``replication_instance_class`` ``dms.<family>.<size>``; Single-
or Multi-AZ by ``multi_az``), and gp2 storage beyond what the class includes: 50 GB for t2 and t3,
100 GB for c4, r4 and r5 (Infracost's allowances; none for other families). A class not of that form
gets no components.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSDatabaseMigrationSvc"
INCLUDED_STORAGE_GB = {
    "t2": Decimal(50),
    "t3": Decimal(50),
    "c4": Decimal(100),
    "r4": Decimal(100),
    "r5": Decimal(100),
}
_CLASS_PARTS = 3  # dms.<family>.<size>


@pricer("aws_dms_replication_instance")
def price_dms_replication_instance(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    parts = (attrs.text("replication_instance_class") or "").split(".")
    if len(parts) < _CLASS_PARTS:
        return []
    instance_type = ".".join(parts[1:])
    zones = "Multiple" if attrs.flag("multi_az") is True else "Single"
    prices = ctx.prices(SERVICE)
    allocated = attrs.decimal("allocated_storage") or Decimal(0)
    storage = max(allocated - INCLUDED_STORAGE_GB.get(parts[1], Decimal(0)), Decimal(0))
    instance_query = {"instanceType": instance_type, "availabilityZone": zones}
    components = [prices.hourly(f"Instance ({instance_type})", instance_query)]
    if storage > 0:  # within the allowance storage costs nothing (Infracost shows no line either)
        storage_query = {"storageMedia": "SSD", "availabilityZone": zones}
        components.append(prices.quantity("Storage (general purpose SSD, gp2)", "GB", storage, storage_query))
    return components
