"""aws_dax_cluster: DynamoDB Accelerator node hours (AmazonDAX offer).

Infracost does not price DAX; the component follows its naming for cache nodes. A cluster runs
``replication_factor`` nodes (1 when unset) of ``node_type``, each billed every hour; the product is the
node type's (``instanceType``) in the cluster's region. Data transfer between DAX and DynamoDB in one
region is free; nothing else is billed by DAX itself.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonDAX"


@pricer("aws_dax_cluster")
def price_dax_cluster(ctx: PricingContext) -> list[CostComponent]:
    node_type = ctx.attrs.text("node_type") or ""
    nodes = ctx.attrs.decimal("replication_factor")
    count = nodes if nodes is not None and nodes > 0 else Decimal(1)
    return [
        ctx.prices(SERVICE).hourly(
            f"DAX node (on-demand, {node_type})", {"instanceType": node_type}, count=count
        )
    ]
