"""DAX and MemoryDB from real Terraform plans (our own cases: Infracost prices neither type).

The bundled snapshot has no AmazonDAX or AmazonMemoryDB prices, so every node line must come out
``priceNotFound`` with its quantity kept (never $0 nor an invented price); the PostgreSQL path is proven
in tests/integration/pricing/test_synthetic_offers.py.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import cloudcostguard
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord

PLANS = Path(__file__).resolve().parents[3] / "fixtures" / "terraform"


def _lines(case: str, catalog: InMemoryCatalog | None = None) -> dict[str, tuple[str, Decimal | None, bool]]:
    estimate = cloudcostguard.estimate((PLANS / case / "plan.json").read_bytes(), catalog=catalog)
    return {
        resource.address: (c.name, c.monthly_quantity, c.price_not_found)
        for resource in estimate.resources
        for c in resource.components
    }


def test_dax_nodes_are_the_replication_factor_every_hour() -> None:
    assert _lines("dax_cluster_test") == {
        "aws_dax_cluster.three_nodes": ("DAX node (on-demand, dax.r5.large)", Decimal(2190), True),
        "aws_dax_cluster.single_node": ("DAX node (on-demand, dax.t3.small)", Decimal(730), True),
        "aws_dax_cluster.ireland": ("DAX node (on-demand, dax.r5.large)", Decimal(1460), True),
    }


def test_memorydb_nodes_are_shards_times_primary_and_replicas() -> None:
    assert _lines("memorydb_cluster_test") == {
        "aws_memorydb_cluster.two_shards": ("MemoryDB node (on-demand, db.r6g.large)", Decimal(4380), True),
        "aws_memorydb_cluster.defaults": ("MemoryDB node (on-demand, db.t4g.small)", Decimal(1460), True),
        "aws_memorydb_cluster.valkey": ("MemoryDB node (on-demand, db.r6g.large)", Decimal(730), True),
    }


def test_memorydb_valkey_is_never_priced_as_redis() -> None:
    # Synthetic price (not AWS's) for the Redis OSS node only: the Valkey cluster must stay unpriced.
    redis_only = InMemoryCatalog(
        [
            PriceRecord(
                "AmazonMemoryDB",
                "us-east-1",
                {"instanceType": "db.r6g.large", "engine": "Redis"},
                "Hrs",
                Decimal("0.25"),
            )
        ],
        source="test",
        version="test",
    )
    estimate = cloudcostguard.estimate(
        (PLANS / "memorydb_cluster_test" / "plan.json").read_bytes(), catalog=redis_only
    )
    costs = {r.address: r.monthly_cost for r in estimate.resources}
    assert costs["aws_memorydb_cluster.two_shards"] == Decimal("1095.00")  # 6 nodes x 730 h x 0.25
    assert costs["aws_memorydb_cluster.valkey"] == 0
    [valkey] = next(r for r in estimate.resources if r.address == "aws_memorydb_cluster.valkey").components
    assert valkey.price_not_found
