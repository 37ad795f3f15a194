"""aws_elasticache_cluster and aws_elasticache_replication_group: node hours and snapshot storage.

Usage keys (Infracost's): ``snapshot_storage_size_gb``, ``reserved_instance_term``,
``reserved_instance_payment_option``.

A replication group scaled by an ``aws_appautoscaling_target`` of the plan (linked by reference, or by
a literal ``resource_id = "replication-group/<id>"``) runs, as Infracost prices it, the target's usage
key ``capacity``, else its ``min_capacity``, in shards (dimension
``elasticache:replication-group:NodeGroups``) or replicas per shard (``...:Replicas``), under
"ElastiCache (on-demand, NODE_TYPE, autoscaling)", flagged usage-based (see ``appautoscaling.py``).
Replicas only count in cluster mode (shards), as in Infracost.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws import appautoscaling, compute
from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonElastiCache"

NODE_GROUPS_DIMENSION = "elasticache:replication-group:NodeGroups"
REPLICAS_DIMENSION = "elasticache:replication-group:Replicas"
# Application Auto Scaling allows up to 500 shards and 5 replicas per shard; a capacity beyond that is
# garbage, not a bill.
MAX_SCALED_CAPACITY = 500

# Engines that keep snapshots (Memcached has none); the first snapshot is free.
_SNAPSHOT_ENGINES = frozenset({"redis", "valkey"})


USAGE = (
    UsageKey("snapshot_storage_size_gb", FLOAT, "Size of one snapshot (GB; Redis and Valkey)."),
    *compute.RESERVATION_USAGE,
)


@pricer("aws_elasticache_cluster", usage=USAGE)
def price_elasticache_cluster(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    member = attrs.text("replication_group_id") is not None or (
        # Computed, hence unknown in a plan either way; but only a group member leaves its node type to
        # the group (a standalone cluster must name one).
        attrs.is_unknown("replication_group_id") and attrs.text("node_type") is None
    )
    if member:
        # A member of a replication group: its nodes are priced with the group, not twice.
        return []
    nodes = max(attrs.integer("num_cache_nodes") or 1, 1)
    return _cache_components(
        ctx,
        attrs.text("node_type"),
        (attrs.text("engine") or "redis").lower(),
        Decimal(nodes),
        attrs.integer("snapshot_retention_limit", 0) or 0,
    )


@pricer("aws_elasticache_replication_group", usage=USAGE)
def price_elasticache_replication_group(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    cluster_mode = attrs.block("cluster_mode")  # provider < 5 spelled the sharding settings this way
    node_groups = attrs.integer("num_node_groups") or cluster_mode.integer("num_node_groups") or 0
    replicas = attrs.integer("replicas_per_node_group")
    if replicas is None:
        replicas = cluster_mode.integer("replicas_per_node_group") or 0
    autoscaled = False
    for target in appautoscaling.scaling_targets(ctx, "replication_group_id", "replication-group/"):
        if target.dimension == NODE_GROUPS_DIMENSION:
            autoscaled = True
            node_groups = _scaled_count(target.capacity, node_groups)
        elif target.dimension == REPLICAS_DIMENSION:
            autoscaled = True
            replicas = _scaled_count(target.capacity, replicas)
    if node_groups > 0:
        nodes = node_groups * (max(replicas, 0) + 1)  # each shard: a primary and its replicas
    else:
        nodes = max(attrs.integer("num_cache_clusters") or attrs.integer("number_cache_clusters") or 1, 1)
    return _cache_components(
        ctx,
        attrs.text("node_type"),
        (attrs.text("engine") or "redis").lower(),
        Decimal(nodes),
        attrs.integer("snapshot_retention_limit", 0) or 0,
        autoscaled=autoscaled,
    )


def _scaled_count(capacity: Decimal | None, configured: int) -> int:
    """A target's capacity as a count; an unknown, fractional or absurd one leaves the configured count."""
    if capacity is None or capacity != capacity.to_integral_value() or capacity > MAX_SCALED_CAPACITY:
        return configured
    return int(capacity)


def _cache_components(
    ctx: PricingContext,
    node_type: str | None,
    engine: str,
    nodes: Decimal,
    snapshot_retention: int,
    *,
    autoscaled: bool = False,
) -> list[CostComponent]:
    reserved = ctx.usage.text("reserved_instance_term") is not None
    details = ", autoscaling" if autoscaled else ""
    name = f"ElastiCache ({'reserved' if reserved else 'on-demand'}, {node_type}{details})"
    price = None
    prices = ctx.prices(SERVICE)
    if not reserved and node_type is not None:
        # The catalog holds on-demand prices only: a reservation's price is reported missing.
        price = prices.lookup(
            productFamily="Cache Instance",
            instanceType=node_type,
            cacheEngine=engine.capitalize(),
        )
    components = [priced(name, "hours", nodes * ctx.hours_per_month, price, usage_based=autoscaled)]
    if engine in _SNAPSHOT_ENGINES and snapshot_retention > 1:
        snapshot_gb = ctx.usage.decimal("snapshot_storage_size_gb")
        components.append(
            priced(
                "Backup storage",
                "GB",
                None if snapshot_gb is None else snapshot_gb * (snapshot_retention - 1),
                prices.lookup(productFamily="Storage Snapshot"),
                usage_based=True,
            )
        )
    return components
