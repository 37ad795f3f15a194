"""aws_opensearch_domain and aws_elasticsearch_domain: data nodes, EBS storage, dedicated masters, UltraWarm.

As Infracost prices them (AmazonES offer, family "Amazon OpenSearch Service Instance" / "… Volume"):

* ``cluster_config.instance_count`` (1 when unset) × hours of ``instance_type`` (default
  ``m4.large.elasticsearch``); the offer names types with ``.search``, so ``.elasticsearch`` becomes
  ``.search`` for the lookup while the component keeps the configured name;
* EBS storage when ``ebs_options.ebs_enabled``: ``volume_size`` GB (8 when unset, counted once, as
  Infracost does) of ``volume_type`` (gp2 default, gp3, io1, standard = magnetic); io1 adds provisioned
  IOPS (``iops``, at least 1); gp3 adds throughput above the included baseline (125 MB/s up to 170 GB,
  else 250 MB/s per started 3,000 GB, at most 1,000) for every data node, shown only when some is paid;
* dedicated masters when enabled: ``dedicated_master_count`` (3 when unset) × hours;
* UltraWarm nodes when ``warm_enabled`` with a ``warm_type``: ``warm_count`` × hours.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.kit import Prices
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonES"
DEFAULT_INSTANCE_TYPE = "m4.large.elasticsearch"
DEFAULT_VOLUME_GB = Decimal(8)
DEFAULT_MASTER_COUNT = Decimal(3)
INSTANCE_FAMILY = "Amazon OpenSearch Service Instance"
VOLUME_FAMILY = "Amazon OpenSearch Service Volume"

# volume_type → offer-file storageMedia of the storage product.
_STORAGE_MEDIA = {"gp3": "GP3", "gp2": "GP2", "io1": "PIOPS-Storage", "standard": "Magnetic"}
_PIOPS = {"productFamily": VOLUME_FAMILY, "storageMedia": "PIOPS"}
_GP3_THROUGHPUT = {"productFamily": VOLUME_FAMILY, "storageMedia": "GP3-ThroughPut-Storage"}
# gp3 baseline throughput (OpenSearch Service pricing): 125 MB/s up to 170 GB; above, 250 MB/s per
# started 3,000 GB, at most 1,000 MB/s.
GP3_SMALL_VOLUME_GB = Decimal(170)
GP3_SMALL_BASELINE = Decimal(125)
GP3_STEP_GB = Decimal(3000)
GP3_STEP_BASELINE = Decimal(250)
GP3_MAX_BASELINE = Decimal(1000)


@pricer("aws_opensearch_domain", "aws_elasticsearch_domain")
def price_search_domain(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(SERVICE)
    cluster = ctx.attrs.block("cluster_config")
    instance_type = cluster.text("instance_type") or DEFAULT_INSTANCE_TYPE
    instances = _count(cluster, "instance_count", Decimal(1))
    components = [_instance_hours(prices, "Instance", instance_type, instances)]

    ebs = ctx.attrs.block("ebs_options")
    if ebs.flag("ebs_enabled", False):
        components.extend(_storage(prices, ebs, instances))
    if cluster.flag("dedicated_master_enabled", False):
        master_type = cluster.text("dedicated_master_type") or DEFAULT_INSTANCE_TYPE
        masters = _count(cluster, "dedicated_master_count", DEFAULT_MASTER_COUNT)
        components.append(_instance_hours(prices, "Dedicated master", master_type, masters))
    warm_type = cluster.text("warm_type")
    if cluster.flag("warm_enabled", False) and warm_type:
        warm = _count(cluster, "warm_count", Decimal(0))
        if warm > 0:
            components.append(_instance_hours(prices, "UltraWarm instance", warm_type, warm))
    return components


def _instance_hours(prices: Prices, role: str, instance_type: str, count: Decimal) -> CostComponent:
    query = {
        "productFamily": INSTANCE_FAMILY,
        "instanceType": instance_type.replace(".elasticsearch", ".search", 1),
    }
    return prices.hourly(f"{role} (on-demand, {instance_type})", query, count=count)


def _storage(prices: Prices, ebs: Attributes, instances: Decimal) -> list[CostComponent]:
    volume_type = ebs.text("volume_type") or "gp2"
    size = ebs.decimal("volume_size")
    size = size if size is not None and size > 0 else DEFAULT_VOLUME_GB
    media = _STORAGE_MEDIA.get(volume_type.lower(), "GP2")
    components = [
        prices.quantity(
            f"Storage ({volume_type})", "GB", size, {"productFamily": VOLUME_FAMILY, "storageMedia": media}
        )
    ]
    kind = volume_type.lower()
    if kind == "gp3":
        throughput = ebs.decimal("throughput")
        paid = Decimal(0) if throughput is None else _billable_throughput(throughput, size) * instances
        if paid > 0:
            components.append(prices.quantity(f"Throughput ({volume_type})", "Mbps", paid, _GP3_THROUGHPUT))
    elif kind == "io1":
        iops = ebs.decimal("iops")
        iops = iops if iops is not None and iops >= 1 else Decimal(1)
        components.append(prices.quantity(f"Storage IOPS ({volume_type})", "IOPS", iops, _PIOPS))
    return components


def _billable_throughput(throughput: Decimal, size_gb: Decimal) -> Decimal:
    if size_gb <= GP3_SMALL_VOLUME_GB:
        baseline = GP3_SMALL_BASELINE
    else:
        steps = (size_gb / GP3_STEP_GB).to_integral_value(rounding=ROUND_CEILING)
        baseline = min(GP3_MAX_BASELINE, steps * GP3_STEP_BASELINE)
    return max(throughput - baseline, Decimal(0))


def _count(block: Attributes, name: str, default: Decimal) -> Decimal:
    value = block.decimal(name)
    return value if value is not None and value >= 0 else default
