"""aws_memorydb_cluster: MemoryDB node hours (AmazonMemoryDB offer).

Infracost does not price MemoryDB; the component follows its naming for cache nodes. A cluster runs
``num_shards`` × (1 + ``num_replicas_per_shard``) nodes (the provider's defaults: 1 shard, 1 replica) of
``node_type``, each billed every hour. MemoryDB for Valkey and for Redis OSS are priced differently, so
the product is chosen by ``instanceType`` and ``engine`` ("Redis" for ``redis`` or an engine not known at
plan time, the service's default; "Valkey" for ``valkey``). Data written and snapshot storage beyond the
free allowance depend on traffic and are not priced.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonMemoryDB"
DEFAULT_SHARDS = Decimal(1)
DEFAULT_REPLICAS = Decimal(1)
_ENGINES = {"redis": "Redis", "valkey": "Valkey"}


@pricer("aws_memorydb_cluster")
def price_memorydb_cluster(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    node_type = attrs.text("node_type") or ""
    shards = attrs.decimal("num_shards")
    replicas = attrs.decimal("num_replicas_per_shard")
    shards = shards if shards is not None and shards > 0 else DEFAULT_SHARDS
    replicas = replicas if replicas is not None and replicas >= 0 else DEFAULT_REPLICAS
    engine = _ENGINES.get((attrs.text("engine") or "redis").lower(), "Redis")
    return [
        ctx.prices(SERVICE).hourly(
            f"MemoryDB node (on-demand, {node_type})",
            {"instanceType": node_type, "engine": engine},
            count=shards * (1 + replicas),
        )
    ]
