"""aws_elasticache_cluster and aws_elasticache_replication_group beyond the goldens (the golden cases
run in the shared Infracost harness)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceCatalog, PriceRecord
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from tests.unit.estimation.aws.single_resource import linked_plan, price_resource, ref

D = Decimal
HOURS = D(730)
SNAPSHOT = load_bundled_catalog()


def _components(
    resource_type: str,
    after: dict[str, Any],
    *,
    unknown: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    catalog: PriceCatalog | None = None,
) -> dict[str, CostComponent]:
    resource = price_resource(f"{resource_type}.cache", after, unknown=unknown, usage=usage, catalog=catalog)
    return {component.name: component for component in resource.components}


def _node_rate(node_type: str) -> Decimal:
    price = SNAPSHOT.lookup(
        "AmazonElastiCache",
        "us-east-1",
        productFamily="Cache Instance",
        instanceType=node_type,
        cacheEngine="Redis",
    )
    assert price is not None
    return price.unit_price


def test_a_cluster_bills_each_node_every_hour() -> None:
    components = _components(
        "aws_elasticache_cluster", {"engine": "redis", "node_type": "cache.t3.medium", "num_cache_nodes": 3}
    )
    node = components["ElastiCache (on-demand, cache.t3.medium)"]
    assert node.monthly_quantity == 3 * HOURS
    assert node.monthly_cost == 3 * HOURS * _node_rate("cache.t3.medium")
    assert list(components) == [node.name]  # no snapshots kept: no backup line


def test_snapshot_storage_counts_every_retained_snapshot_but_the_free_first_one() -> None:
    backup_price = SNAPSHOT.lookup("AmazonElastiCache", "us-east-1", productFamily="Storage Snapshot")
    assert backup_price is not None
    components = _components(
        "aws_elasticache_cluster",
        {
            "engine": "redis",
            "node_type": "cache.m5.large",
            "num_cache_nodes": 1,
            "snapshot_retention_limit": 5,
        },
        usage={"snapshot_storage_size_gb": 200},
    )
    backup = components["Backup storage"]
    assert backup.monthly_quantity == D(800)
    assert backup.monthly_cost == D(800) * backup_price.unit_price == D("68.000")
    one_kept = _components(
        "aws_elasticache_cluster",
        {"engine": "redis", "node_type": "cache.m5.large", "snapshot_retention_limit": 1},
        usage={"snapshot_storage_size_gb": 200},
    )
    assert "Backup storage" not in one_kept


def test_memcached_keeps_no_snapshots_and_asks_for_memcached_prices() -> None:
    catalog = InMemoryCatalog(
        [
            PriceRecord(
                "AmazonElastiCache",
                "us-east-1",
                {"productFamily": "Cache Instance", "instanceType": "cache.m5.large", "cacheEngine": engine},
                "Hrs",
                D(rate),
            )
            for engine, rate in (("Memcached", "0.150"), ("Redis", "0.156"), ("Valkey", "0.125"))
        ],
        source="test",
        version="test",
    )
    memcached = _components(
        "aws_elasticache_cluster",
        {
            "engine": "memcached",
            "node_type": "cache.m5.large",
            "num_cache_nodes": 2,
            "snapshot_retention_limit": 3,
        },
        catalog=catalog,
    )
    assert list(memcached) == ["ElastiCache (on-demand, cache.m5.large)"]
    assert memcached["ElastiCache (on-demand, cache.m5.large)"].monthly_cost == 2 * HOURS * D("0.150")
    valkey = _components(
        "aws_elasticache_replication_group",
        {"engine": "valkey", "node_type": "cache.m5.large", "num_cache_clusters": 2},
        catalog=catalog,
    )
    assert valkey["ElastiCache (on-demand, cache.m5.large)"].monthly_cost == 2 * HOURS * D("0.125")


def test_a_replication_group_member_cluster_is_priced_with_its_group_not_twice() -> None:
    member = _components(
        "aws_elasticache_cluster",
        {"cluster_id": "member"},
        unknown={"replication_group_id": True, "node_type": True, "engine": True, "num_cache_nodes": True},
    )
    assert member == {}
    named_group = _components(
        "aws_elasticache_cluster", {"cluster_id": "member", "replication_group_id": "rg-1"}
    )
    assert named_group == {}
    # The attribute is computed, so a standalone cluster's plan leaves it unknown too.
    standalone = _components(
        "aws_elasticache_cluster",
        {"engine": "redis", "node_type": "cache.t3.micro", "num_cache_nodes": 1},
        unknown={"replication_group_id": True},
    )
    assert standalone["ElastiCache (on-demand, cache.t3.micro)"].monthly_cost == HOURS * _node_rate(
        "cache.t3.micro"
    )


def test_a_sharded_replication_group_has_a_primary_plus_replicas_in_every_shard() -> None:
    components = _components(
        "aws_elasticache_replication_group",
        {
            "engine": "redis",
            "node_type": "cache.r5.4xlarge",
            "num_node_groups": 2,
            "replicas_per_node_group": 2,
        },
        unknown={"num_cache_clusters": True},
    )
    node = components["ElastiCache (on-demand, cache.r5.4xlarge)"]
    assert node.monthly_quantity == 6 * HOURS
    assert node.monthly_cost == 6 * HOURS * _node_rate("cache.r5.4xlarge")
    legacy = _components(
        "aws_elasticache_replication_group",
        {
            "node_type": "cache.r5.4xlarge",
            "cluster_mode": [{"num_node_groups": 3, "replicas_per_node_group": 1}],
        },
    )
    assert legacy["ElastiCache (on-demand, cache.r5.4xlarge)"].monthly_quantity == 6 * HOURS
    unsharded = _components(
        "aws_elasticache_replication_group", {"node_type": "cache.r5.4xlarge", "num_cache_clusters": 3}
    )
    assert unsharded["ElastiCache (on-demand, cache.r5.4xlarge)"].monthly_quantity == 3 * HOURS


def test_reserved_nodes_report_their_price_missing() -> None:
    components = _components(
        "aws_elasticache_replication_group",
        {"node_type": "cache.m6g.12xlarge", "num_cache_clusters": 3},
        usage={"reserved_instance_term": "3_year", "reserved_instance_payment_option": "all_upfront"},
    )
    node = components["ElastiCache (reserved, cache.m6g.12xlarge)"]
    assert node.price_not_found and node.monthly_quantity == 3 * HOURS


def test_nonsense_node_counts_fall_back_to_one_node() -> None:
    for after in (
        {"engine": "redis", "node_type": "cache.t3.small", "num_cache_nodes": -3},
        {"engine": "redis", "node_type": "cache.t3.small", "num_cache_nodes": "three"},
    ):
        components = _components("aws_elasticache_cluster", after)
        assert components["ElastiCache (on-demand, cache.t3.small)"].monthly_quantity == HOURS


# --- replication groups scaled by an aws_appautoscaling_target of the plan --------------------------

GROUP = {
    "engine": "redis",
    "node_type": "cache.m4.large",
    "replication_group_id": "sessions",
    "num_node_groups": 4,
    "replicas_per_node_group": 3,
}
SCALED_NAME = "ElastiCache (on-demand, cache.m4.large, autoscaling)"


def scaled_group(*targets: tuple[str, Any], group: dict[str, Any] | None = None) -> dict[str, CostComponent]:
    expressions = {"resource_id": ref("aws_elasticache_replication_group.sessions.replication_group_id")}
    plan = linked_plan(
        [("aws_elasticache_replication_group.sessions", group or GROUP, {"id": True}, {})]
        + [
            (
                f"aws_appautoscaling_target.{dimension.lower()}",
                {
                    "service_namespace": "elasticache",
                    "scalable_dimension": f"elasticache:replication-group:{dimension}",
                    "resource_id": "replication-group/sessions",
                    "min_capacity": minimum,
                    "max_capacity": 20,
                },
                {"id": True},
                expressions,
            )
            for dimension, minimum in targets
        ]
    )
    resource = cloudcostguard.estimate(plan).resources[0]
    return {component.name: component for component in resource.components}


def test_a_group_scaled_in_shards_and_replicas_runs_their_minimums() -> None:
    components = scaled_group(("NodeGroups", 8), ("Replicas", 5))

    nodes = components[SCALED_NAME]
    assert (nodes.monthly_quantity, nodes.usage_based) == (48 * HOURS, True)  # 8 shards × (5 replicas + 1)
    assert nodes.monthly_cost == 48 * HOURS * _node_rate("cache.m4.large")


def test_a_group_scaled_in_shards_keeps_its_replicas_per_shard() -> None:
    components = scaled_group(("NodeGroups", 2))

    assert components[SCALED_NAME].monthly_quantity == 8 * HOURS  # 2 shards × (3 replicas + 1)


def test_replicas_scale_only_a_sharded_group_as_in_infracost() -> None:
    unsharded = {"engine": "redis", "node_type": "cache.m4.large", "replication_group_id": "sessions"}
    components = scaled_group(("Replicas", 4), group={**unsharded, "num_cache_clusters": 2})

    assert components[SCALED_NAME].monthly_quantity == 2 * HOURS


@pytest.mark.parametrize("minimum", [None, "2.5", 10_000])
def test_an_unknown_fractional_or_absurd_minimum_keeps_the_configured_shards(minimum: Any) -> None:
    components = scaled_group(("NodeGroups", minimum))

    assert components[SCALED_NAME].monthly_quantity == 16 * HOURS  # 4 shards × (3 replicas + 1)


# --- a target's usage `capacity`; targets naming their group by a literal resource_id -------------------


def _literal_target(minimum: Any, resource_id: str = "replication-group/sessions") -> dict[str, Any]:
    return {
        "service_namespace": "elasticache",
        "scalable_dimension": "elasticache:replication-group:NodeGroups",
        "resource_id": resource_id,
        "min_capacity": minimum,
        "max_capacity": 20,
    }


def _literal_plan(*targets: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return linked_plan(
        [("aws_elasticache_replication_group.sessions", GROUP, {"id": True}, {})]
        + [
            (address, after, {"id": True}, {"resource_id": {"constant_value": after["resource_id"]}})
            for address, after in targets
        ]
    )


def test_a_group_target_matched_by_its_literal_id_runs_its_usage_capacity_in_shards() -> None:
    plan = _literal_plan(("aws_appautoscaling_target.shards", _literal_target(1)))

    estimate = cloudcostguard.estimate(plan, usage={"aws_appautoscaling_target.shards": {"capacity": 10}})

    nodes = {c.name: c for c in estimate.resources[0].components}[SCALED_NAME]
    assert nodes.monthly_quantity == 40 * HOURS  # 10 shards × (3 replicas + 1)
    assert nodes.monthly_cost == 40 * HOURS * _node_rate("cache.m4.large") == D("4555.200")


def test_a_literal_group_target_without_usage_runs_its_minimum() -> None:
    plan = _literal_plan(("aws_appautoscaling_target.shards", _literal_target(1)))

    nodes = {c.name: c for c in cloudcostguard.estimate(plan).resources[0].components}[SCALED_NAME]

    assert nodes.monthly_quantity == 4 * HOURS  # 1 shard × (3 replicas + 1)


def test_a_literal_target_of_another_group_changes_nothing() -> None:
    plan = _literal_plan(
        ("aws_appautoscaling_target.shards", _literal_target(1, "replication-group/elsewhere"))
    )

    components = {c.name: c for c in cloudcostguard.estimate(plan).resources[0].components}

    assert components["ElastiCache (on-demand, cache.m4.large)"].monthly_quantity == 16 * HOURS


def test_an_absurd_usage_capacity_keeps_the_configured_shards() -> None:
    plan = _literal_plan(("aws_appautoscaling_target.shards", _literal_target(1)))

    estimate = cloudcostguard.estimate(plan, usage={"aws_appautoscaling_target.shards": {"capacity": 10_000}})

    assert {c.name: c for c in estimate.resources[0].components}[SCALED_NAME].monthly_quantity == 16 * HOURS
