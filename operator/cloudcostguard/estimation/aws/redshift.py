"""aws_redshift_cluster: node hours, managed storage, concurrency scaling, Spectrum and backups.

As Infracost prices it (AmazonRedshift offer): ``number_of_nodes`` (1 when unset) × node hours by
``instanceType``; RA3 managed storage (usage ``managed_storage_gb``); concurrency scaling beyond the free
credits for RA3/DS2/DC2 (usage ``excess_concurrency_scaling_secs``, node-seconds,
``concurrencyscalingfreeusage: No``); Redshift Spectrum (usage ``spectrum_data_scanned_tb``); backup
storage (usage ``backup_storage_gb``) in Infracost's buckets of 51,200 GB and 512,000 GB, priced at the
snapshot price's tiers starting at 0, 51,200 and 512,000 GB.

Managed storage, Spectrum and snapshot products are found by product family alone (their price does not
depend on the node type; Infracost matches the node type loosely in the managed-storage product).
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines
from cloudcostguard.estimation.kit import FLOAT, INTEGER, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonRedshift"

_MANAGED_STORAGE = {"productFamily": "Redshift Managed Storage"}
_SPECTRUM = {"productFamily": "Redshift Data Scan"}
_SNAPSHOTS = {"productFamily": "Storage Snapshot"}
_BACKUP_BUCKETS = Buckets(
    ("Backup storage (first 50 TB)", "Backup storage (next 450 TB)", "Backup storage (over 500 TB)"),
    (Decimal(51_200), Decimal(512_000)),
    (Decimal(0), Decimal(51_200), Decimal(512_000)),
)
_CONCURRENCY_SCALING_FAMILIES = ("ra3", "ds2", "dc2")

USAGE = (
    UsageKey("managed_storage_gb", FLOAT, "RA3 managed storage used (GB)."),
    UsageKey(
        "excess_concurrency_scaling_secs",
        INTEGER,
        "Concurrency scaling beyond the free credits (node-seconds).",
    ),
    UsageKey("spectrum_data_scanned_tb", FLOAT, "Monthly data scanned by Redshift Spectrum (TB)."),
    UsageKey("backup_storage_gb", FLOAT, "Backup storage beyond the free allowance (GB)."),
)


@pricer("aws_redshift_cluster", usage=USAGE)
def price_redshift_cluster(ctx: PricingContext) -> list[CostComponent]:
    usage = ctx.usage
    prices = ctx.prices(SERVICE)
    node_type = ctx.attrs.text("node_type") or ""
    nodes = ctx.attrs.decimal("number_of_nodes")
    components = [
        prices.hourly(
            f"Cluster usage (on-demand, {node_type})",
            {"productFamily": "Compute Instance", "instanceType": node_type},
            count=nodes if nodes is not None and nodes > 0 else Decimal(1),
        )
    ]
    if node_type.startswith("ra3"):
        components.append(
            prices.usage(
                f"Managed storage ({node_type})", "GB", usage.decimal("managed_storage_gb"), _MANAGED_STORAGE
            )
        )
    if node_type.startswith(_CONCURRENCY_SCALING_FAMILIES):
        query = {
            "productFamily": "Redshift Concurrency Scaling",
            "instanceType": node_type,
            "concurrencyscalingfreeusage": "No",
        }
        components.append(
            prices.usage(
                f"Concurrency scaling ({node_type})",
                "node-seconds",
                usage.decimal("excess_concurrency_scaling_secs"),
                query,
            )
        )
    components.append(prices.usage("Spectrum", "TB", usage.decimal("spectrum_data_scanned_tb"), _SPECTRUM))
    components.extend(
        bucket_lines(_BACKUP_BUCKETS, "GB", usage.decimal("backup_storage_gb"), prices.find(_SNAPSHOTS))
    )
    return components
